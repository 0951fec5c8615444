package workspaces

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/go-chi/chi/v5"

	"appkernel/auth"
	"appkernel/db/dbtest"
	"appkernel/middleware"
)

// TestWithAuth wires the real auth service the way the kernel does
// (auth.Config.Workspaces = the Service, Authenticate in front of both
// routers) and walks registration, invites by token at sign-up and
// workspace switching with JWTs; auth is the Service's Users.
func TestWithAuth(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, dialect string) {
		ctx := context.Background()
		store := openStore(t, dialect)
		ws := New(Config{Store: store})
		if err := ws.Init(ctx); err != nil {
			t.Fatal(err)
		}
		a, err := auth.New(ctx, auth.Config{
			Store:      store,
			Secret:     []byte("0123456789abcdef0123456789abcdef"),
			Workspaces: ws,
			Argon2:     auth.Argon2Params{Memory: 64, Time: 1, Threads: 1},
			Insecure:   true,
		})
		if err != nil {
			t.Fatal(err)
		}
		ws.SetUsers(a) // auth is built after the Service, as in the kernel
		r := chi.NewRouter()
		r.Use(middleware.RequestID, a.Authenticate)
		r.Mount("/auth", a.Routes())
		r.Mount("/workspaces", ws.Routes())
		r.With(ws.RequireMember).Get("/probe", func(w http.ResponseWriter, r *http.Request) {
			id, _ := WorkspaceIDFrom(r.Context())
			role, _ := RoleFrom(r.Context())
			middleware.WriteJSON(w, 200, map[string]string{"workspace_id": id, "role": role})
		})
		srv := httptest.NewServer(r)
		t.Cleanup(srv.Close)

		call := func(token, method, path string, body any, header ...string) (int, []byte) {
			t.Helper()
			var rd io.Reader
			if body != nil {
				b, _ := json.Marshal(body)
				rd = bytes.NewReader(b)
			}
			req, _ := http.NewRequest(method, srv.URL+path, rd)
			req.Header.Set("Content-Type", "application/json")
			if token != "" {
				req.Header.Set("Authorization", "Bearer "+token)
			}
			for i := 0; i+1 < len(header); i += 2 {
				req.Header.Set(header[i], header[i+1])
			}
			res, err := srv.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer res.Body.Close()
			b, _ := io.ReadAll(res.Body)
			return res.StatusCode, b
		}
		type session struct {
			User        auth.User `json:"user"`
			AccessToken string    `json:"access_token"`
		}
		register := func(email, invite string, want int) session {
			t.Helper()
			body := map[string]string{"email": email, "password": "a long enough password"}
			if invite != "" {
				body["invite_token"] = invite
			}
			status, b := call("", "POST", "/auth/register", body)
			if status != want {
				t.Fatalf("register %s: %d %s", email, status, b)
			}
			var s session
			_ = json.Unmarshal(b, &s)
			return s
		}

		alice := register("alice@example.com", "", 201) // the first user
		if alice.User.WorkspaceID == "" {
			t.Fatalf("no personal workspace: %+v", alice.User)
		}
		status, b := call(alice.AccessToken, "POST", "/workspaces/"+alice.User.WorkspaceID+"/invite",
			map[string]string{"email": "bob@example.com", "role": "admin"})
		if status != 201 {
			t.Fatalf("invite: %d %s", status, b)
		}
		var inv Invitation
		_ = json.Unmarshal(b, &inv)

		register("mallory@example.com", inv.Token, 403) // issued to Bob
		bob := register("Bob@Example.com", inv.Token, 201)
		if bob.User.WorkspaceID == "" || bob.User.WorkspaceID == alice.User.WorkspaceID {
			t.Fatalf("bob's current workspace %q", bob.User.WorkspaceID)
		}
		register("carol@example.com", inv.Token, 403) // spent

		status, b = call(bob.AccessToken, "GET", "/workspaces", nil)
		var list []Workspace
		_ = json.Unmarshal(b, &list)
		if status != 200 || len(list) != 2 || list[0].ID != alice.User.WorkspaceID || list[0].Role != RoleAdmin || list[1].Role != RoleOwner {
			t.Fatalf("bob's workspaces: %d %s", status, b)
		}
		status, b = call(bob.AccessToken, "GET", "/workspaces/"+alice.User.WorkspaceID+"/members", nil)
		var ms []Member
		_ = json.Unmarshal(b, &ms)
		if status != 200 || len(ms) != 2 || ms[0].Email != "alice@example.com" || ms[1].Email != "bob@example.com" {
			t.Fatalf("members with auth as Users: %d %s", status, b)
		}
		status, b = call(bob.AccessToken, "GET", "/probe", nil, WorkspaceHeader, alice.User.WorkspaceID)
		var probe map[string]string
		_ = json.Unmarshal(b, &probe)
		if status != 200 || probe["workspace_id"] != alice.User.WorkspaceID || probe["role"] != RoleAdmin {
			t.Fatalf("switched probe: %d %s", status, b)
		}
		// Alice cannot switch into Bob's personal workspace, nor read it.
		if status, b := call(alice.AccessToken, "GET", "/probe", nil, WorkspaceHeader, bob.User.WorkspaceID); status != 403 && status != 404 {
			t.Fatalf("alice into bob's workspace: %d %s", status, b)
		}
		if status, b := call(alice.AccessToken, "GET", "/workspaces/"+bob.User.WorkspaceID+"/members", nil); status != 404 {
			t.Fatalf("alice reads bob's members: %d %s", status, b)
		}
		if status, _ := call("", "GET", "/workspaces", nil); status != 401 {
			t.Fatalf("anonymous list: %d", status)
		}
	})
}
