package appkernel

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/go-chi/chi/v5"

	"appkernel/admin"
	"appkernel/auth"
	"appkernel/db"
	"appkernel/middleware"
)

// adminTestSink keeps the kernel's audit and usage events.
type adminTestSink struct {
	mu     sync.Mutex
	events []admin.Event
}

func (s *adminTestSink) Emit(e admin.Event) {
	s.mu.Lock()
	s.events = append(s.events, e)
	s.mu.Unlock()
}

func (s *adminTestSink) take() []admin.Event {
	s.mu.Lock()
	defer s.mu.Unlock()
	ev := s.events
	s.events = nil
	return ev
}

// TestAdminCaptureThroughTheKernel: with a sink wired (as the admin
// recorder is), a request to an app route is metered with its route
// pattern and the identity auth found, a save it makes is audited with the
// request's id, probes are not metered, and the admin routes are mounted
// for admins only.
func TestAdminCaptureThroughTheKernel(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	sink := &adminTestSink{}
	cfg := DefaultConfig()
	cfg.Name = "widget_service"
	cfg.DatabaseURL = "sqlite:///" + filepath.ToSlash(filepath.Join(t.TempDir(), "app.db"))
	cfg.DisableDevAutostart = true
	cfg.JWTSecret = "admin-capture-test-secret-0123456789abcdef"
	cfg.Logger = slog.New(slog.DiscardHandler)
	cfg.testAdminSink = sink
	k, err := New(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { k.Close() })
	if err := admin.Migrate(ctx, k.DB()); err != nil {
		t.Fatal(err)
	}
	r := chi.NewRouter()
	r.Use(auth.RequireUser)
	r.Put("/{id}", func(w http.ResponseWriter, r *http.Request) {
		e, err := k.DB().SaveEntity(r.Context(), "widgets", db.Entity{"id": chi.URLParam(r, "id"), "name": "sprocket"})
		if err != nil {
			middleware.WriteError(w, r, err)
			return
		}
		middleware.WriteJSON(w, http.StatusOK, e)
	})
	k.Mount("/widgets", r)
	srv := httptest.NewServer(k)
	t.Cleanup(srv.Close)

	login := func(email, role string) (token, userID, wsID string) {
		t.Helper()
		if _, err := k.Auth().CreateUser(ctx, auth.CreateUserInput{Email: email, Password: "a long enough passphrase", Role: role}); err != nil {
			t.Fatal(err)
		}
		res, err := http.Post(srv.URL+"/auth/login", "application/json", strings.NewReader(`{"email":"`+email+`","password":"a long enough passphrase"}`))
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		var tok struct {
			AccessToken string `json:"access_token"`
			User        struct {
				ID          string `json:"id"`
				WorkspaceID string `json:"workspace_id"`
			} `json:"user"`
		}
		if err := json.NewDecoder(res.Body).Decode(&tok); err != nil || tok.AccessToken == "" {
			t.Fatalf("login %s: %d %v", email, res.StatusCode, err)
		}
		return tok.AccessToken, tok.User.ID, tok.User.WorkspaceID
	}
	do := func(method, path, token string) *http.Response {
		t.Helper()
		req, _ := http.NewRequest(method, srv.URL+path, nil)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		res, err := srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, res.Body)
		res.Body.Close()
		return res
	}
	adminTok, _, _ := login("boss@example.com", auth.RoleAdmin)
	userTok, userID, wsID := login("user@example.com", auth.RoleUser)
	// The accounts' creation and the logins: audited, never a password
	// hash, never the tables of passwords, sessions and refresh tokens.
	for _, e := range sink.take() {
		switch e.Entity {
		case auth.TablePasswords, auth.TableSessions, auth.TableRefresh:
			t.Fatalf("a secret table was audited: %+v", e)
		}
		for f, c := range e.Changes {
			for _, v := range []any{c.Old, c.New} {
				if s, ok := v.(string); ok && strings.Contains(s, "argon2") {
					t.Fatalf("field %s of %s holds a password hash: %+v", f, e.Entity, e)
				}
			}
		}
	}

	res := do("PUT", "/widgets/w-42", userTok)
	if res.StatusCode != http.StatusOK {
		t.Fatalf("PUT: %d", res.StatusCode)
	}
	ev := sink.take()
	if len(ev) != 2 {
		t.Fatalf("%d events, want the audit and the request: %+v", len(ev), ev)
	}
	audit, req := ev[0], ev[1]
	if audit.Kind != admin.KindAudit || audit.Action != "create" || audit.Entity != "widgets" || audit.EntityID != "w-42" ||
		audit.App != "widget_service" || audit.UserID != userID || audit.WorkspaceID != wsID || audit.RequestID != res.Header.Get("X-Request-ID") {
		t.Fatalf("audit event %+v", audit)
	}
	if req.Kind != admin.KindRequest || req.Route != "/widgets/{id}" || req.Method != "PUT" || req.Status != 200 ||
		req.UserID != userID || req.WorkspaceID != wsID || req.RequestID != audit.RequestID || req.BytesOut == 0 {
		t.Fatalf("request event %+v", req)
	}

	for _, p := range []string{"/healthz", "/readyz"} {
		do("GET", p, "")
	}
	if ev := sink.take(); len(ev) != 0 {
		t.Fatalf("probes were metered: %+v", ev)
	}

	if s := do("GET", "/admin/audit?entity=widgets", adminTok).StatusCode; s != http.StatusOK {
		t.Fatalf("admin GET /admin/audit: %d", s)
	}
	if s := do("GET", "/admin/audit", userTok).StatusCode; s != http.StatusForbidden {
		t.Fatalf("user GET /admin/audit: %d, want 403", s)
	}
	if s := do("GET", "/workspaces/"+wsID+"/usage", userTok).StatusCode; s != http.StatusOK {
		t.Fatalf("owner GET /workspaces/{id}/usage: %d", s)
	}
	if s := do("GET", "/workspaces/"+wsID+"/usage", adminTok).StatusCode; s != http.StatusNotFound {
		t.Fatalf("outsider GET /workspaces/{id}/usage: %d, want 404", s)
	}
	// A subrouter's guard refuses before the route is matched: the pattern
	// is the mount's ("/admin/*"), still never the raw path.
	if ev := sink.take(); len(ev) != 4 || ev[0].Route != "/admin/audit" || ev[1].Route != "/admin/*" || ev[2].Route != "/workspaces/{id}/usage" {
		t.Fatalf("admin reads metered as %+v", ev)
	}
}
