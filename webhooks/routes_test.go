package webhooks

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/google/uuid"

	"appkernel/auth"
	"appkernel/db"
	"appkernel/db/dbtest"
	"appkernel/middleware"
	"appkernel/workspaces"
)

// api serves the workspace routes with the webhook routes mounted, the
// way the kernel does; users are injected from "Authorization: Test <id>".
type api struct {
	srv   *httptest.Server
	ws    *workspaces.Service
	store *db.Store
	users map[string]auth.User
}

func newAPI(t *testing.T, dialect string) *api {
	t.Helper()
	store := openStore(t, dialect)
	ws := workspaces.New(workspaces.Config{Store: store})
	if err := ws.Init(context.Background()); err != nil {
		t.Fatal(err)
	}
	Mount(ws, store)
	a := &api{ws: ws, store: store, users: map[string]auth.User{}}
	r := chi.NewRouter()
	r.Use(middleware.RequestID, func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if id, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Test "); ok {
				if u, found := a.users[id]; found {
					r = r.WithContext(auth.WithUser(r.Context(), u))
				}
			}
			next.ServeHTTP(w, r)
		})
	})
	r.Mount("/workspaces", ws.Routes())
	a.srv = httptest.NewServer(r)
	t.Cleanup(a.srv.Close)
	return a
}

// user creates a user with a personal workspace (registered before the
// server takes requests).
func (a *api) user(t *testing.T, email string) auth.User {
	t.Helper()
	u := auth.User{ID: uuid.NewString(), Email: email, Role: "user", IsActive: true}
	err := a.store.Tx(context.Background(), func(tx *db.Store) error {
		id, err := a.ws.CreatePersonal(context.Background(), tx, u)
		u.WorkspaceID = id
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	a.users[u.ID] = u
	return u
}

func (a *api) do(t *testing.T, u auth.User, method, path string, body any, want int, dst any) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, a.srv.URL+path, rd)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Authorization", "Test "+u.ID)
	res, err := a.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	if res.StatusCode != want {
		t.Fatalf("%s %s as %s: %d %s, want %d", method, path, u.Email, res.StatusCode, b, want)
	}
	if dst != nil {
		if err := json.Unmarshal(b, dst); err != nil {
			t.Fatalf("%s: %v", b, err)
		}
	}
}

func TestRoutesForAdminsOnly(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, dialect string) {
		a := newAPI(t, dialect)
		owner, admin, member, outsider := a.user(t, "o@x.io"), a.user(t, "a@x.io"), a.user(t, "m@x.io"), a.user(t, "z@x.io")
		W := owner.WorkspaceID
		ctx := context.Background()
		if _, err := a.ws.AddMember(ctx, W, admin.ID, workspaces.RoleAdmin); err != nil {
			t.Fatal(err)
		}
		if _, err := a.ws.AddMember(ctx, W, member.ID, workspaces.RoleMember); err != nil {
			t.Fatal(err)
		}
		rc := newReceiver(t, nil)
		startDispatcher(t, fastOptions(a.store))
		base := "/workspaces/" + W + "/webhooks"

		var created Created
		a.do(t, admin, "POST", base, map[string]string{"url": rc.srv.URL + "/in", "description": "billing"}, 201, &created)
		if created.ID == "" || !strings.HasPrefix(created.Secret, "whsec_") || created.URL != rc.srv.URL+"/in" || !created.Enabled || created.WorkspaceID != W {
			t.Fatalf("created %+v", created)
		}
		var bad middleware.ErrorBody
		a.do(t, owner, "POST", base, map[string]string{"url": "ftp://x"}, 422, &bad)
		if bad.Error.Code != "validation_error" || !strings.Contains(bad.Error.Message, "http") {
			t.Fatalf("bad url: %+v", bad)
		}

		var list []map[string]any
		a.do(t, owner, "GET", base, nil, 200, &list)
		if len(list) != 1 || list[0]["id"] != created.ID || list[0]["secret"] != nil {
			t.Fatalf("list %v", list)
		}

		// Members 403, outsiders 404, on every route.
		wid := base + "/" + created.ID
		for _, r := range []struct{ method, path string }{
			{"POST", base}, {"GET", base}, {"DELETE", wid}, {"POST", wid + "/rotate-secret"}, {"POST", wid + "/test"}, {"GET", wid + "/deliveries"},
		} {
			var body any
			if r.method == "POST" && r.path == base {
				body = map[string]string{"url": "https://example.com"}
			}
			a.do(t, member, r.method, r.path, body, 403, nil)
			a.do(t, outsider, r.method, r.path, body, 404, nil)
		}
		// Another workspace's admin cannot reach this webhook through theirs.
		a.do(t, outsider, "DELETE", "/workspaces/"+outsider.WorkspaceID+"/webhooks/"+created.ID, nil, 404, nil)

		var rotated map[string]string
		a.do(t, admin, "POST", wid+"/rotate-secret", nil, 200, &rotated)
		if !strings.HasPrefix(rotated["secret"], "whsec_") || rotated["secret"] == created.Secret {
			t.Fatalf("rotated %v", rotated)
		}

		var test map[string]string
		a.do(t, admin, "POST", wid+"/test", nil, 202, &test)
		got := rc.waitFor(t, 1, 10*time.Second)[0]
		if got.ID != test["delivery_id"] || decodePayload(t, got.Body).Event != TestEvent ||
			!verify(rotated["secret"], got.headers(), got.Body, time.Now()) || !verify(created.Secret, got.headers(), got.Body, time.Now()) {
			t.Fatalf("test delivery %+v (%v)", got, test)
		}
		waitDelivery(t, a.store, W, created.ID, stateDelivered)
		var ds []Delivery
		a.do(t, owner, "GET", wid+"/deliveries", nil, 200, &ds)
		if len(ds) != 1 || ds[0].ID != got.ID || ds[0].State != stateDelivered || len(ds[0].Attempts) != 1 ||
			ds[0].Attempts[0].Status != 204 || ds[0].Attempts[0].At.IsZero() {
			t.Fatalf("deliveries %+v", ds)
		}

		a.do(t, owner, "DELETE", wid, nil, 204, nil)
		a.do(t, owner, "DELETE", wid, nil, 404, nil)
		a.do(t, owner, "GET", wid+"/deliveries", nil, 404, nil)
	})
}
