package admin_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/google/uuid"

	"appkernel/admin"
	"appkernel/auth"
	"appkernel/db"
	"appkernel/middleware"
	"appkernel/workspaces"
)

// routesHarness serves admin.Routes at /admin and the workspace routes
// extended with admin.WorkspaceRoutes, with users injected from the
// test-only header "Authorization: Test <id>".
type routesHarness struct {
	t     *testing.T
	srv   *httptest.Server
	ws    *workspaces.Service
	store *db.Store

	mu    sync.Mutex
	users map[string]auth.User
}

func newRoutesHarness(t *testing.T, store *db.Store) *routesHarness {
	ws := workspaces.New(workspaces.Config{Store: store})
	if err := ws.Init(context.Background()); err != nil {
		t.Fatal(err)
	}
	h := &routesHarness{t: t, ws: ws, store: store, users: map[string]auth.User{}}
	rc := admin.RoutesConfig{DB: store, App: "app"}
	ws.Extend(admin.WorkspaceRoutes(rc, ws))
	r := chi.NewRouter()
	r.Use(middleware.RequestID, func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if id, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Test "); ok {
				h.mu.Lock()
				u, found := h.users[id]
				h.mu.Unlock()
				if found {
					r = r.WithContext(auth.WithUser(r.Context(), u))
				}
			}
			next.ServeHTTP(w, r)
		})
	})
	r.Mount("/admin", admin.Routes(rc))
	r.Mount("/workspaces", ws.Routes())
	h.srv = httptest.NewServer(r)
	t.Cleanup(h.srv.Close)
	return h
}

func (h *routesHarness) user(role string) auth.User {
	h.t.Helper()
	u := auth.User{ID: uuid.NewString(), Email: uuid.NewString() + "@example.com", Role: role, IsActive: true}
	err := h.store.Tx(context.Background(), func(tx *db.Store) error {
		id, err := h.ws.CreatePersonal(context.Background(), tx, u)
		u.WorkspaceID = id
		return err
	})
	if err != nil {
		h.t.Fatal(err)
	}
	h.mu.Lock()
	h.users[u.ID] = u
	h.mu.Unlock()
	return u
}

// get returns the status and body of GET path as u (zero User: anonymous).
func (h *routesHarness) get(u auth.User, path string) (int, []byte) {
	h.t.Helper()
	req, _ := http.NewRequest(http.MethodGet, h.srv.URL+path, nil)
	if u.ID != "" {
		req.Header.Set("Authorization", "Test "+u.ID)
	}
	res, err := h.srv.Client().Do(req)
	if err != nil {
		h.t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, b
}

func (h *routesHarness) expect(u auth.User, path string, status int, code string) []byte {
	h.t.Helper()
	got, body := h.get(u, path)
	if got != status {
		h.t.Fatalf("GET %s: %d %s, want %d", path, got, body, status)
	}
	if code != "" {
		var e middleware.ErrorBody
		if err := json.Unmarshal(body, &e); err != nil || e.Error.Code != code {
			h.t.Fatalf("GET %s: body %s, want code %q", path, body, code)
		}
	}
	return body
}

func TestRoutes(t *testing.T) {
	queryDialects(t, func(t *testing.T, store *db.Store) {
		h := newRoutesHarness(t, store)
		ctx := context.Background()
		boss := h.user(auth.RoleAdmin)
		owner := h.user(auth.RoleUser)
		member := h.user(auth.RoleUser)
		wsAdmin := h.user(auth.RoleUser)
		outsider := h.user(auth.RoleUser)
		wsID := owner.WorkspaceID
		for _, m := range []struct {
			u    auth.User
			role string
		}{{member, workspaces.RoleMember}, {wsAdmin, workspaces.RoleAdmin}} {
			if _, err := h.ws.AddMember(ctx, wsID, m.u.ID, m.role); err != nil {
				t.Fatal(err)
			}
		}
		t0 := time.Date(2026, 12, 6, 10, 0, 0, 0, time.UTC)
		insertAudit(t, store, auditFixture{"e1", "app", "widgets", "w1", owner.ID, wsID, t0})
		insertAudit(t, store, auditFixture{"e2", "app", "widgets", "w2", owner.ID, wsID, t0.Add(time.Second)})
		insertAudit(t, store, auditFixture{"e3", "other", "widgets", "w3", owner.ID, wsID, t0.Add(2 * time.Second)})
		insertAggregate(t, store, "app", wsID, owner.ID, "requests", "2026-12", 40)
		insertAggregate(t, store, "app", wsID, member.ID, "requests", "2026-12", 2)
		insertAggregate(t, store, "app", wsID, member.ID, "tokens", "2026-12", 1500)
		insertAggregate(t, store, "app", wsID, member.ID, "requests", "2026-12-06", 2)

		// Admins read the audit trail, newest first, a page at a time.
		var page admin.AuditPage
		body := h.expect(boss, "/admin/audit?entity=widgets&limit=1", 200, "")
		if err := json.Unmarshal(body, &page); err != nil || len(page.Entries) != 1 || page.Entries[0].ID != "e2" || page.NextCursor == "" {
			t.Fatalf("first page %s", body)
		}
		body = h.expect(boss, "/admin/audit?entity=widgets&limit=1&cursor="+url.QueryEscape(page.NextCursor), 200, "")
		page = admin.AuditPage{}
		if err := json.Unmarshal(body, &page); err != nil || len(page.Entries) != 1 || page.Entries[0].ID != "e1" || page.NextCursor != "" {
			t.Fatalf("second page %s", body)
		}
		body = h.expect(boss, "/admin/audit?app=other&user_id="+owner.ID+"&since=2026-12-06T10:00:01Z", 200, "")
		page = admin.AuditPage{}
		if err := json.Unmarshal(body, &page); err != nil || len(page.Entries) != 1 || page.Entries[0].ID != "e3" {
			t.Fatalf("app=other page %s", body)
		}
		for _, bad := range []string{"limit=0", "limit=x", "since=yesterday", "until=2026-12-06", "cursor=zzz"} {
			h.expect(boss, "/admin/audit?"+bad, 400, "invalid_query")
		}

		// Admins read any workspace's usage.
		var usage admin.UsageResponse
		body = h.expect(boss, "/admin/usage?workspace_id="+wsID+"&period=2026-12", 200, "")
		if err := json.Unmarshal(body, &usage); err != nil || usage.Usage["requests"] != 42 || usage.Usage["tokens"] != 1500 ||
			usage.Period != "2026-12" || usage.WorkspaceID != wsID || usage.App != "app" {
			t.Fatalf("admin usage %s", body)
		}
		h.expect(boss, "/admin/usage?workspace_id="+wsID+"&period=2026-1", 400, "invalid_query")
		h.expect(boss, "/admin/usage?period=2026-12", 400, "invalid_query")

		// Everyone else: 401 without identity, 403 with one.
		for _, path := range []string{"/admin/audit", "/admin/usage?workspace_id=" + wsID} {
			h.expect(auth.User{}, path, 401, "unauthorized")
			for _, u := range []auth.User{owner, member, outsider} {
				h.expect(u, path, 403, "forbidden")
			}
		}

		// The owner reads their own workspace's usage; other members may not;
		// outsiders do not learn the workspace exists.
		usage = admin.UsageResponse{}
		body = h.expect(owner, "/workspaces/"+wsID+"/usage?period=2026-12-06", 200, "")
		if err := json.Unmarshal(body, &usage); err != nil || usage.Usage["requests"] != 2 || usage.Period != "2026-12-06" || usage.WorkspaceID != wsID {
			t.Fatalf("owner usage %s", body)
		}
		h.expect(owner, "/workspaces/"+wsID+"/usage?period=december", 400, "invalid_query")
		h.expect(member, "/workspaces/"+wsID+"/usage", 403, "forbidden")
		h.expect(wsAdmin, "/workspaces/"+wsID+"/usage", 403, "forbidden")
		h.expect(outsider, "/workspaces/"+wsID+"/usage", 404, "not_found")
		h.expect(boss, "/workspaces/"+wsID+"/usage", 404, "not_found")
		h.expect(auth.User{}, "/workspaces/"+wsID+"/usage", 401, "unauthorized")
		// Without a period: this month.
		usage = admin.UsageResponse{}
		body = h.expect(owner, "/workspaces/"+wsID+"/usage", 200, "")
		if err := json.Unmarshal(body, &usage); err != nil || usage.Period != admin.MonthPeriod(time.Now()) {
			t.Fatalf("default period %s", body)
		}
	})
}
