package workspaces

import "testing"

// A feature's route added with Extend sits behind the workspace's own
// guards: outsiders get 404, members below the route's role 403, and an
// admin reaches it with the workspace in context.
func TestExtendRoutesAreGuardedLikeTheWorkspaceRoutes(t *testing.T) {
	h := newHarness(t, "sqlite")
	alice, bob, carol := h.user("alice@example.com"), h.user("bob@example.com"), h.user("carol@example.com")
	var ws Workspace
	h.do(alice, "POST", "/workspaces", map[string]string{"name": "Acme"}).expect(t, 201, &ws)
	h.join(t, alice, bob, ws.ID, RoleMember)

	var got map[string]string
	h.do(alice, "GET", "/workspaces/"+ws.ID+"/ext", nil).expect(t, 200, &got)
	if got["workspace_id"] != ws.ID || got["role"] != RoleOwner {
		t.Fatalf("owner on an extension route got %v", got)
	}
	h.do(bob, "GET", "/workspaces/"+ws.ID+"/ext", nil).expect(t, 403, nil)
	h.do(carol, "GET", "/workspaces/"+ws.ID+"/ext", nil).expect(t, 404, nil)
}
