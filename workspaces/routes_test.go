package workspaces

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"appkernel/auth"
	"appkernel/db"
	"appkernel/db/dbtest"
)

// invite has alice (an owner or admin of wsID) invite email with role and
// returns the invitation with its token.
func (h *harness) invite(t *testing.T, by auth.User, wsID, email, role string) Invitation {
	t.Helper()
	var inv Invitation
	h.do(by, "POST", "/workspaces/"+wsID+"/invite", map[string]string{"email": email, "role": role}).expect(t, 201, &inv)
	return inv
}

// join makes u a member of wsID with role through an invite by owner.
func (h *harness) join(t *testing.T, owner, u auth.User, wsID, role string) {
	t.Helper()
	inv := h.invite(t, owner, wsID, u.Email, role)
	h.do(u, "POST", "/workspaces/join/"+inv.Token, nil).expect(t, 200, nil)
}

func TestCreateAndList(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, dialect string) {
		h := newHarness(t, dialect)
		alice, bob := h.user("alice@example.com"), h.user("bob@example.com")

		var ws Workspace
		h.do(alice, "POST", "/workspaces", map[string]string{"name": "  Acme  "}).expect(t, 201, &ws)
		if ws.ID == "" || ws.Name != "Acme" || ws.OwnerID != alice.ID || ws.Role != RoleOwner || ws.Personal || ws.CreatedAt == "" {
			t.Fatalf("created %+v", ws)
		}

		var list []Workspace
		h.do(alice, "GET", "/workspaces", nil).expect(t, 200, &list)
		if len(list) != 2 || list[0].ID != alice.WorkspaceID || !list[0].Personal || list[0].Name != PersonalName ||
			list[1].ID != ws.ID || list[0].Role != RoleOwner || list[1].Role != RoleOwner {
			t.Fatalf("alice's list %+v", list)
		}

		// Bob joins Acme as a member: his list shows it with his role, and
		// never Alice's personal workspace.
		h.join(t, alice, bob, ws.ID, RoleMember)
		h.do(bob, "GET", "/workspaces", nil).expect(t, 200, &list)
		if len(list) != 2 || list[0].ID != bob.WorkspaceID || list[1].ID != ws.ID || list[1].Role != RoleMember {
			t.Fatalf("bob's list %+v", list)
		}

		var got Workspace
		h.do(bob, "GET", "/workspaces/"+ws.ID, nil).expect(t, 200, &got)
		if got.ID != ws.ID || got.Role != RoleMember {
			t.Fatalf("bob gets %+v", got)
		}
	})
}

func TestCreateValidation(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, dialect string) {
		h := newHarness(t, dialect)
		alice := h.user("alice@example.com")
		for _, name := range []string{"", "   ", strings.Repeat("é", 101), "bad\x00name"} {
			h.do(alice, "POST", "/workspaces", map[string]string{"name": name}).expectError(t, 422, "validation_error")
		}
		h.do(alice, "POST", "/workspaces", map[string]any{"name": 5}).expectError(t, 400, "invalid_json")
		h.do(alice, "POST", "/workspaces", map[string]any{"name": "x", "owner_id": "someone"}).expectError(t, 400, "invalid_json")
		var ws Workspace
		h.do(alice, "POST", "/workspaces", map[string]string{"name": strings.Repeat("é", 100)}).expect(t, 201, &ws)
		if len([]rune(ws.Name)) != 100 {
			t.Fatalf("name %q", ws.Name)
		}
		var list []Workspace
		h.do(alice, "GET", "/workspaces", nil).expect(t, 200, &list)
		if len(list) != 2 {
			t.Fatalf("rejected names created workspaces: %+v", list)
		}
	})
}

func TestRoutesRequireUser(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, dialect string) {
		h := newHarness(t, dialect)
		alice := h.user("alice@example.com")
		inv := h.invite(t, alice, alice.WorkspaceID, "bob@example.com", RoleMember)
		anon := auth.User{}
		for _, c := range []struct{ method, path string }{
			{"POST", "/workspaces"},
			{"GET", "/workspaces"},
			{"GET", "/workspaces/" + alice.WorkspaceID},
			{"GET", "/workspaces/" + alice.WorkspaceID + "/members"},
			{"POST", "/workspaces/" + alice.WorkspaceID + "/invite"},
			{"DELETE", "/workspaces/" + alice.WorkspaceID + "/members/" + alice.ID},
			{"POST", "/workspaces/join/" + inv.Token},
			{"POST", "/workspaces/join"},
			{"GET", "/workspaces/" + alice.WorkspaceID + "/invites"},
			{"DELETE", "/workspaces/" + alice.WorkspaceID + "/invites/" + inv.ID},
			{"GET", "/probe?workspace_id=" + alice.WorkspaceID},
		} {
			h.do(anon, c.method, c.path, map[string]string{"name": "x", "email": "bob@example.com", "token": inv.Token}).expectError(t, 401, "unauthorized")
		}
		// The anonymous join did not spend the token.
		bob := h.user("bob@example.com")
		h.do(bob, "POST", "/workspaces/join/"+inv.Token, nil).expect(t, 200, nil)
	})
}

func TestMembers(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, dialect string) {
		h := newHarness(t, dialect)
		alice, bob := h.user("alice@example.com"), h.user("bob@example.com")
		h.join(t, alice, bob, alice.WorkspaceID, RoleAdmin)

		var ms []Member
		h.do(bob, "GET", "/workspaces/"+alice.WorkspaceID+"/members", nil).expect(t, 200, &ms)
		if len(ms) != 2 || ms[0].UserID != alice.ID || ms[0].Role != RoleOwner || ms[1].UserID != bob.ID || ms[1].Role != RoleAdmin ||
			ms[0].WorkspaceID != alice.WorkspaceID || ms[1].CreatedAt == "" {
			t.Fatalf("members %+v", ms)
		}
	})
}

func TestInvite(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, dialect string) {
		h := newHarness(t, dialect)
		alice, bob, carol := h.user("alice@example.com"), h.user("bob@example.com"), h.user("carol@example.com")
		ws := alice.WorkspaceID
		before := time.Now()
		inv := h.invite(t, alice, ws, "  Dave@Example.COM ", "")
		if !strings.HasPrefix(inv.Token, InviteTokenPrefix) || len(inv.Token) < 40 || inv.Email != "dave@example.com" ||
			inv.Role != RoleMember || inv.WorkspaceID != ws || inv.InvitedBy != alice.ID || inv.ID == "" {
			t.Fatalf("invite %+v", inv)
		}
		exp, err := time.Parse(time.RFC3339Nano, inv.ExpiresAt)
		if err != nil {
			t.Fatal(err)
		}
		if d := exp.Sub(before); d < 7*24*time.Hour-time.Minute || d > 7*24*time.Hour+time.Minute {
			t.Fatalf("expires in %s, want 7 days", d)
		}

		// Only the hash is stored.
		rows, err := h.store.FindEntities(context.Background(), tableInvites, db.Query{})
		if err != nil || len(rows) != 1 {
			t.Fatalf("invites %v %v", rows, err)
		}
		for k, v := range rows[0] {
			if s, ok := v.(string); ok && strings.Contains(s, strings.TrimPrefix(inv.Token, InviteTokenPrefix)) {
				t.Fatalf("column %s holds the token", k)
			}
		}
		if rows[0]["token_hash"] != hashToken(inv.Token) {
			t.Fatalf("token_hash %v", rows[0]["token_hash"])
		}

		h.join(t, alice, bob, ws, RoleAdmin)
		h.join(t, alice, carol, ws, RoleMember)
		path := "/workspaces/" + ws + "/invite"
		// A member may not invite; an admin may not invite an owner.
		h.do(carol, "POST", path, map[string]string{"email": "e@example.com", "role": "member"}).expectError(t, 403, "forbidden")
		h.do(bob, "POST", path, map[string]string{"email": "e@example.com", "role": "owner"}).expectError(t, 403, "forbidden")
		h.do(bob, "POST", path, map[string]string{"email": "e@example.com", "role": "admin"}).expect(t, 201, nil)
		h.do(alice, "POST", path, map[string]string{"email": "e@example.com", "role": "owner"}).expect(t, 201, nil)
		for _, in := range []map[string]string{
			{"email": "not-an-email", "role": "member"},
			{"email": "", "role": "member"},
			{"email": "Eve <eve@example.com>", "role": "member"},
			{"email": "eve@example.com", "role": "superuser"},
			{"email": "eve@example.com", "role": "Owner"},
		} {
			h.do(alice, "POST", path, in).expectError(t, 422, "validation_error")
		}
	})
}

func TestJoin(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, dialect string) {
		h := newHarness(t, dialect)
		alice, bob, mallory := h.user("alice@example.com"), h.user("Bob@Example.com"), h.user("mallory@example.com")
		ws := alice.WorkspaceID
		inv := h.invite(t, alice, ws, "bob@example.com", RoleAdmin)

		// A leaked token is useless to another account, and trying does
		// not spend it.
		h.do(mallory, "POST", "/workspaces/join/"+inv.Token, nil).expectError(t, 403, "invalid_invite")
		h.do(mallory, "GET", "/workspaces/"+ws+"/members", nil).expectError(t, 404, "not_found")

		var m Member
		h.do(bob, "POST", "/workspaces/join/"+inv.Token, nil).expect(t, 200, &m)
		if m.WorkspaceID != ws || m.UserID != bob.ID || m.Role != RoleAdmin {
			t.Fatalf("membership %+v", m)
		}
		var role map[string]string
		h.do(bob, "GET", "/probe", nil, WorkspaceHeader, ws).expect(t, 200, &role)
		if role["role"] != RoleAdmin {
			t.Fatalf("bob's role %v", role)
		}

		// Single use.
		h.do(bob, "POST", "/workspaces/join/"+inv.Token, nil).expectError(t, 403, "invalid_invite")
		// Unknown and malformed tokens.
		h.do(bob, "POST", "/workspaces/join/"+InviteTokenPrefix+"AAAA", nil).expectError(t, 403, "invalid_invite")
		h.do(bob, "POST", "/workspaces/join/nonsense", nil).expectError(t, 403, "invalid_invite")

		// Already a member: 409, and the invite stays usable.
		again := h.invite(t, alice, ws, "bob@example.com", RoleMember)
		h.do(bob, "POST", "/workspaces/join/"+again.Token, nil).expectError(t, 409, "already_member")
		h.do(bob, "DELETE", "/workspaces/"+ws+"/members/"+bob.ID, nil).expect(t, 204, nil)
		h.do(bob, "POST", "/workspaces/join/"+again.Token, nil).expect(t, 200, &m)
		if m.Role != RoleMember {
			t.Fatalf("rejoined as %q", m.Role)
		}
	})
}

func TestJoinExpired(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, dialect string) {
		h := newHarness(t, dialect)
		alice, bob := h.user("alice@example.com"), h.user("bob@example.com")
		inv := h.invite(t, alice, alice.WorkspaceID, bob.Email, RoleMember)
		if _, err := h.store.SaveEntity(context.Background(), tableInvites, map[string]any{
			"id": inv.ID, "expires_at": time.Now().Add(-time.Second).UTC(),
		}); err != nil {
			t.Fatal(err)
		}
		h.do(bob, "POST", "/workspaces/join/"+inv.Token, nil).expectError(t, 403, "invalid_invite")

		// A short InviteTTL is honoured too.
		h2 := newHarness(t, dialect, func(c *Config) { c.InviteTTL = 50 * time.Millisecond })
		alice2, bob2 := h2.user("alice@example.com"), h2.user("bob@example.com")
		inv2 := h2.invite(t, alice2, alice2.WorkspaceID, bob2.Email, RoleMember)
		time.Sleep(100 * time.Millisecond)
		h2.do(bob2, "POST", "/workspaces/join/"+inv2.Token, nil).expectError(t, 403, "invalid_invite")
	})
}

func TestRemoveMember(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, dialect string) {
		h := newHarness(t, dialect)
		alice, bob, carol, dave := h.user("alice@example.com"), h.user("bob@example.com"), h.user("carol@example.com"), h.user("dave@example.com")
		ws := alice.WorkspaceID
		h.join(t, alice, bob, ws, RoleAdmin)
		h.join(t, alice, carol, ws, RoleMember)
		h.join(t, alice, dave, ws, RoleMember)
		del := func(by, who auth.User) response {
			return h.do(by, "DELETE", "/workspaces/"+ws+"/members/"+who.ID, nil)
		}

		del(carol, dave).expectError(t, 403, "forbidden") // a member removes no one else
		del(bob, alice).expectError(t, 403, "forbidden")  // an admin does not remove an owner
		del(alice, alice).expectError(t, 409, "last_owner")
		h.do(alice, "DELETE", "/workspaces/"+ws+"/members/"+h.user("x@example.com").ID, nil).expectError(t, 404, "not_found")

		del(carol, carol).expect(t, 204, nil) // leaving
		del(bob, dave).expect(t, 204, nil)    // an admin removes a member
		h.do(carol, "GET", "/workspaces/"+ws+"/members", nil).expectError(t, 404, "not_found")
		var ms []Member
		h.do(alice, "GET", "/workspaces/"+ws+"/members", nil).expect(t, 200, &ms)
		if len(ms) != 2 {
			t.Fatalf("members after removals %+v", ms)
		}

		// With a second owner the first may go, and the second becomes last.
		inv := h.invite(t, alice, ws, carol.Email, RoleOwner)
		h.do(carol, "POST", "/workspaces/join/"+inv.Token, nil).expect(t, 200, nil)
		del(carol, alice).expect(t, 204, nil)
		del(carol, carol).expectError(t, 409, "last_owner")
		del(carol, bob).expect(t, 204, nil)
		h.do(carol, "GET", "/workspaces/"+ws+"/members", nil).expect(t, 200, &ms)
		if len(ms) != 1 || ms[0].UserID != carol.ID || ms[0].Role != RoleOwner {
			t.Fatalf("members %+v", ms)
		}
	})
}

func TestRequireMember(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, dialect string) {
		h := newHarness(t, dialect)
		alice, bob := h.user("alice@example.com"), h.user("bob@example.com")
		var team Workspace
		h.do(alice, "POST", "/workspaces", map[string]string{"name": "Team"}).expect(t, 201, &team)
		h.join(t, alice, bob, team.ID, RoleMember)

		check := func(r response, wsID, role string) {
			t.Helper()
			var got map[string]string
			r.expect(t, 200, &got)
			if got["workspace_id"] != wsID || got["role"] != role {
				t.Fatalf("got %v, want %s as %s", got, wsID, role)
			}
		}
		// Every source of the workspace id, in its order of precedence.
		check(h.do(bob, "GET", "/probe", nil), bob.WorkspaceID, RoleOwner)
		check(h.do(bob, "GET", "/probe", nil, WorkspaceHeader, team.ID), team.ID, RoleMember)
		check(h.do(bob, "GET", "/probe?workspace_id="+team.ID, nil, WorkspaceHeader, bob.WorkspaceID), team.ID, RoleMember)
		check(h.do(bob, "GET", "/app/"+team.ID+"/things?workspace_id="+bob.WorkspaceID, nil), team.ID, RoleMember)

		// A member lacking the role: 403; a non-member: 404.
		h.do(bob, "GET", "/probe/admin", nil, WorkspaceHeader, team.ID).expectError(t, 403, "forbidden")
		check(h.do(alice, "GET", "/probe/admin", nil, WorkspaceHeader, team.ID), team.ID, RoleOwner)
		h.do(bob, "GET", "/probe", nil, WorkspaceHeader, alice.WorkspaceID).expectError(t, 404, "not_found")

		// No workspace at all (a user without a current workspace).
		h.mu.Lock()
		nows := auth.User{ID: "u-nows", Email: "n@example.com"}
		h.users[nows.ID] = nows
		h.mu.Unlock()
		h.do(nows, "GET", "/probe", nil).expectError(t, 400, "workspace_required")
	})
}

func TestRouteNotFoundShape(t *testing.T) {
	h := newHarness(t, "sqlite")
	alice := h.user("alice@example.com")
	h.do(alice, "GET", "/workspaces/"+alice.WorkspaceID+"/nothing", nil).expectError(t, 404, "not_found")

	// A 405 lists the methods the path has (RFC 9110 requires Allow), at
	// the mount's own path and below it.
	for _, c := range []struct{ method, path, allow string }{
		{"PUT", "/workspaces", "GET, POST"},
		{"PATCH", "/workspaces/", "GET, POST"},
		{"PATCH", "/workspaces/" + alice.WorkspaceID, "GET"},
		{"POST", "/workspaces/" + alice.WorkspaceID + "/members", "GET"},
	} {
		res := h.do(alice, c.method, c.path, nil)
		res.expectError(t, http.StatusMethodNotAllowed, "method_not_allowed")
		if got := res.Header.Get("Allow"); got != c.allow {
			t.Errorf("%s %s: Allow = %q, want %q", c.method, c.path, got, c.allow)
		}
	}
}
