package workspaces

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-chi/chi/v5"

	"appkernel/auth"
	"appkernel/db/dbtest"
	"appkernel/middleware"
)

// authEnv is the real auth service in front of the Service, as the kernel
// wires them, with two app routes that act in the current workspace.
type authEnv struct {
	t  *testing.T
	ws *Service
	// srv serves /auth, /workspaces, and:
	//   GET /current: the caller's current workspace (auth.UserFrom), as an
	//     app handler scoping its data by it reads it;
	//   POST /admin-action: behind RequireRole(RoleAdmin), the current
	//     workspace of auth.UserFrom and auth.PrincipalFrom beside what the
	//     guard checked.
	srv *httptest.Server
	// skew is how far auth's clock runs ahead of the wall clock (advance).
	skew atomic.Int64
}

// signedIn is the part of auth's login answer the tests use.
type signedIn struct {
	User        auth.User `json:"user"`
	AccessToken string    `json:"access_token"`
}

func newAuthEnv(t *testing.T, dialect string) *authEnv {
	t.Helper()
	ctx := context.Background()
	store := openStore(t, dialect)
	ws := New(Config{Store: store})
	if err := ws.Init(ctx); err != nil {
		t.Fatal(err)
	}
	e := &authEnv{t: t, ws: ws}
	a, err := auth.New(ctx, auth.Config{
		Store: store, Secret: []byte("0123456789abcdef0123456789abcdef"), Workspaces: ws,
		Argon2: auth.Argon2Params{Memory: 64, Time: 1, Threads: 1}, Insecure: true,
		Now: func() time.Time { return time.Now().Add(time.Duration(e.skew.Load())) },
	})
	if err != nil {
		t.Fatal(err)
	}
	ws.SetUsers(a)
	r := chi.NewRouter()
	r.Use(middleware.RequestID, a.Authenticate)
	r.Mount("/auth", a.Routes())
	r.Mount("/workspaces", ws.Routes())
	r.With(auth.RequireUser).Get("/current", func(w http.ResponseWriter, r *http.Request) {
		u, _ := auth.UserFrom(r.Context())
		middleware.WriteJSON(w, http.StatusOK, map[string]string{"workspace_id": u.WorkspaceID})
	})
	r.With(auth.RequireUser, ws.RequireRole(RoleAdmin)).Post("/admin-action", func(w http.ResponseWriter, r *http.Request) {
		u, _ := auth.UserFrom(r.Context())
		p, _ := auth.PrincipalFrom(r.Context())
		checked, _ := WorkspaceIDFrom(r.Context())
		role, _ := RoleFrom(r.Context())
		middleware.WriteJSON(w, http.StatusOK, map[string]string{
			"acted_in": u.WorkspaceID, "principal_workspace": p.WorkspaceID, "checked": checked, "role": role,
		})
	})
	e.srv = httptest.NewServer(r)
	t.Cleanup(e.srv.Close)
	return e
}

// advance moves auth's clock forward by d, past cache lifetimes.
func (e *authEnv) advance(d time.Duration) { e.skew.Add(int64(d)) }

// call sends a JSON request with an access token ("" for none) and headers
// given as name, value pairs.
func (e *authEnv) call(token, method, path string, body any, header ...string) (int, []byte) {
	e.t.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			e.t.Fatal(err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, e.srv.URL+path, rd)
	if err != nil {
		e.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	res, err := e.srv.Client().Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		e.t.Fatal(err)
	}
	return res.StatusCode, b
}

// register signs up email (self-signup is off: the first user, or with an
// invite token).
func (e *authEnv) register(email, invite string) signedIn {
	e.t.Helper()
	body := map[string]string{"email": email, "password": "a long enough password", "invite_token": invite}
	status, b := e.call("", "POST", "/auth/register", body)
	if status != http.StatusCreated {
		e.t.Fatalf("register %s: %d %s", email, status, b)
	}
	var s signedIn
	if err := json.Unmarshal(b, &s); err != nil {
		e.t.Fatal(err)
	}
	return s
}

// invite has by (owner or admin of ws) invite email with role and returns
// the token.
func (e *authEnv) invite(by signedIn, ws, email, role string) string {
	e.t.Helper()
	status, b := e.call(by.AccessToken, "POST", "/workspaces/"+ws+"/invite", map[string]string{"email": email, "role": role})
	if status != http.StatusCreated {
		e.t.Fatalf("invite %s to %s: %d %s", email, ws, status, b)
	}
	var inv Invitation
	if err := json.Unmarshal(b, &inv); err != nil {
		e.t.Fatal(err)
	}
	return inv.Token
}

// TestRemovedFromPersonalWorkspace: Alice is removed from her personal
// workspace P by its other owner. P is no longer her current workspace,
// with or without X-Workspace-ID naming it, exactly as for Carol, another
// removed member.
func TestRemovedFromPersonalWorkspace(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, dialect string) {
		ctx := context.Background()
		e := newAuthEnv(t, dialect)
		alice := e.register("alice@example.com", "")
		P := alice.User.WorkspaceID
		bob := e.register("bob@example.com", e.invite(alice, P, "bob@example.com", RoleOwner))
		carol := e.register("carol@example.com", e.invite(alice, P, "carol@example.com", RoleMember))
		// Before: P is Alice's current workspace.
		if status, b := e.call(alice.AccessToken, "GET", "/current", nil); status != http.StatusOK || !bytes.Contains(b, []byte(P)) {
			t.Fatalf("alice's current workspace: %d %s", status, b)
		}
		for _, u := range []signedIn{carol, alice} {
			if status, b := e.call(bob.AccessToken, "DELETE", "/workspaces/"+P+"/members/"+u.User.ID, nil); status != http.StatusNoContent {
				t.Fatalf("bob removes %s: %d %s", u.User.Email, status, b)
			}
		}
		if m, err := e.ws.IsMember(ctx, P, alice.User.ID); err != nil || m {
			t.Fatalf("alice still a member: %v %v", m, err)
		}
		// Alice's requests cached her membership for at most
		// auth.MembershipCacheTTL.
		e.advance(auth.MembershipCacheTTL)
		for _, u := range []signedIn{carol, alice} {
			if status, b := e.call(u.AccessToken, "GET", "/current", nil, WorkspaceHeader, P); status != http.StatusForbidden {
				t.Fatalf("%s names P after removal: %d %s", u.User.Email, status, b)
			}
		}
		status, b := e.call(alice.AccessToken, "GET", "/current", nil)
		var cur map[string]string
		if err := json.Unmarshal(b, &cur); err != nil {
			t.Fatal(err)
		}
		if status != http.StatusOK || cur["workspace_id"] != "" {
			t.Fatalf("alice without header after removal: %d %s, want no current workspace", status, b)
		}
	})
}

// TestRequireRoleActsInTheCheckedWorkspace: Mallory is a plain member of
// Victim's workspace V and owner of her own P. With "X-Workspace-ID: V"
// (auth makes V her current workspace: she is a member) and
// "?workspace_id=P" (the guard checks her role in P: owner), the admin-only
// handler must not act in V: the current workspace is the one checked.
func TestRequireRoleActsInTheCheckedWorkspace(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, dialect string) {
		e := newAuthEnv(t, dialect)
		victim := e.register("victim@example.com", "")
		V := victim.User.WorkspaceID
		mallory := e.register("mallory@example.com", e.invite(victim, V, "mallory@example.com", RoleMember))
		P := mallory.User.WorkspaceID
		if status, b := e.call(mallory.AccessToken, "POST", "/admin-action", nil, WorkspaceHeader, V); status != http.StatusForbidden {
			t.Fatalf("member acting as admin in V: %d %s", status, b)
		}
		status, b := e.call(mallory.AccessToken, "POST", "/admin-action?workspace_id="+P, nil, WorkspaceHeader, V)
		var out map[string]string
		if err := json.Unmarshal(b, &out); err != nil {
			t.Fatal(err)
		}
		want := map[string]string{"acted_in": P, "principal_workspace": P, "checked": P, "role": RoleOwner}
		if status != http.StatusOK || !maps.Equal(out, want) {
			t.Fatalf("guard checked one workspace, handler acts in another: %d %v, want %v (V=%s)", status, out, want, V)
		}
	})
}
