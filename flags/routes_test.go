package flags_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/go-chi/chi/v5"

	"appkernel/auth"
	"appkernel/flags"
	"appkernel/middleware"
)

// server serves the flag routes the way the kernel mounts them, with users
// injected from the test-only header "Authorization: Test <id>".
func server(t *testing.T, svc *flags.Service, users ...auth.User) *httptest.Server {
	t.Helper()
	byID := map[string]auth.User{}
	for _, u := range users {
		byID[u.ID] = u
	}
	r := chi.NewRouter()
	r.Use(middleware.RequestID, func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if id, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Test "); ok {
				if u, found := byID[id]; found {
					r = r.WithContext(auth.WithUser(r.Context(), u))
				}
			}
			next.ServeHTTP(w, r)
		})
	})
	r.Mount("/admin/flags", svc.AdminRoutes())
	r.Mount("/flags", svc.Routes())
	srv := httptest.NewServer(r)
	t.Cleanup(srv.Close)
	return srv
}

// call sends a request as user id ("" for anonymous) and returns the
// status and body.
func call(t *testing.T, srv *httptest.Server, id, method, path, body string) (int, []byte) {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, srv.URL+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if id != "" {
		req.Header.Set("Authorization", "Test "+id)
	}
	res, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, b
}

func errorCode(t *testing.T, body []byte) string {
	t.Helper()
	var e middleware.ErrorBody
	if err := json.Unmarshal(body, &e); err != nil {
		t.Fatalf("not the error shape: %s", body)
	}
	if e.Error.RequestID == "" {
		t.Fatalf("error without request_id: %s", body)
	}
	return e.Error.Code
}

func TestAdminRoutes(t *testing.T) {
	t.Parallel()
	svc := newService(t, flags.Config{Store: open(t, storeURL(t, "sqlite"))})
	admin := auth.User{ID: "admin-1", Role: auth.RoleAdmin, IsActive: true, WorkspaceID: "ws-a"}
	user := auth.User{ID: "user-1", Role: auth.RoleUser, IsActive: true, WorkspaceID: "ws-u"}
	srv := server(t, svc, admin, user)

	put := `{"enabled": true, "rollout_percent": 0, "users": ["user-1"], "workspaces": []}`
	// Non-admins and anonymous callers change and see nothing.
	for _, c := range []struct{ method, path, body string }{
		{"GET", "/admin/flags", ""},
		{"PUT", "/admin/flags/beta", put},
		{"DELETE", "/admin/flags/beta", ""},
	} {
		if st, b := call(t, srv, user.ID, c.method, c.path, c.body); st != http.StatusForbidden || errorCode(t, b) != "forbidden" {
			t.Errorf("%s %s as a user: %d %s, want 403 forbidden", c.method, c.path, st, b)
		}
		if st, b := call(t, srv, "", c.method, c.path, c.body); st != http.StatusUnauthorized || errorCode(t, b) != "unauthorized" {
			t.Errorf("%s %s anonymous: %d %s, want 401", c.method, c.path, st, b)
		}
	}
	if list, _ := svc.List(t.Context()); len(list) != 0 {
		t.Fatalf("a refused PUT stored %+v", list)
	}

	st, b := call(t, srv, admin.ID, "PUT", "/admin/flags/beta", put)
	if st != http.StatusOK {
		t.Fatalf("PUT as admin: %d %s", st, b)
	}
	var f flags.Flag
	if err := json.Unmarshal(b, &f); err != nil || f.Name != "beta" || !f.Enabled || len(f.Users) != 1 {
		t.Fatalf("PUT answered %s", b)
	}
	if !svc.Enabled("beta", flags.For{UserID: "user-1"}) {
		t.Fatal("the PUT flag is not on for its listed user")
	}

	st, b = call(t, srv, admin.ID, "GET", "/admin/flags", "")
	var list struct{ Flags []flags.Flag }
	if st != http.StatusOK || json.Unmarshal(b, &list) != nil || len(list.Flags) != 1 || list.Flags[0].Name != "beta" {
		t.Fatalf("GET /admin/flags: %d %s", st, b)
	}

	// Validation, in the error shape.
	for _, c := range []struct{ path, body, code string }{
		{"/admin/flags/Bad%20Name", put, "invalid_flag"},
		{"/admin/flags/beta", `{"enabled": true, "rollout_percent": 101}`, "invalid_flag"},
		{"/admin/flags/beta", `{"enabled": true, "percent": 5}`, "invalid_json"},
	} {
		st, b := call(t, srv, admin.ID, "PUT", c.path, c.body)
		if st/100 != 4 || errorCode(t, b) != c.code {
			t.Errorf("PUT %s %s: %d %s, want %s", c.path, c.body, st, b, c.code)
		}
	}

	if st, b := call(t, srv, admin.ID, "DELETE", "/admin/flags/beta", ""); st != http.StatusNoContent {
		t.Fatalf("DELETE: %d %s", st, b)
	}
	if st, b := call(t, srv, admin.ID, "DELETE", "/admin/flags/beta", ""); st != http.StatusNotFound || errorCode(t, b) != "not_found" {
		t.Fatalf("second DELETE: %d %s", st, b)
	}
	if svc.Enabled("beta", flags.For{UserID: "user-1"}) {
		t.Fatal("a deleted flag is still on")
	}
}

func TestCallerFlags(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	svc := newService(t, flags.Config{Store: open(t, storeURL(t, "sqlite"))})
	alice := auth.User{ID: "alice", Role: auth.RoleUser, IsActive: true, WorkspaceID: "ws-team"}
	bob := auth.User{ID: "bob", Role: auth.RoleUser, IsActive: true, WorkspaceID: "ws-bob"}
	srv := server(t, svc, alice, bob)
	for name, f := range map[string]flags.Flag{
		"for.alice": {Enabled: true, Users: []string{"alice"}},
		"for.team":  {Enabled: true, Workspaces: []string{"ws-team"}},
		"everyone":  {Enabled: true, RolloutPercent: 100},
		"off":       {Enabled: false, RolloutPercent: 100, Users: []string{"alice", "bob"}},
	} {
		if err := svc.Set(ctx, name, f); err != nil {
			t.Fatal(err)
		}
	}
	want := map[string]map[string]bool{
		"alice": {"for.alice": true, "for.team": true, "everyone": true, "off": false},
		"bob":   {"for.alice": false, "for.team": false, "everyone": true, "off": false},
	}
	for id, w := range want {
		st, b := call(t, srv, id, "GET", "/flags", "")
		var got map[string]bool
		if st != http.StatusOK || json.Unmarshal(b, &got) != nil {
			t.Fatalf("GET /flags as %s: %d %s", id, st, b)
		}
		wb, _ := json.Marshal(w)
		gb, _ := json.Marshal(got)
		if !bytes.Equal(wb, gb) {
			t.Errorf("GET /flags as %s = %s, want %s", id, gb, wb)
		}
	}
	if st, b := call(t, srv, "", "GET", "/flags", ""); st != http.StatusUnauthorized {
		t.Fatalf("GET /flags anonymous: %d %s", st, b)
	}
}
