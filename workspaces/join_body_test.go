package workspaces

import (
	"testing"

	"appkernel/auth"
	"appkernel/db/dbtest"
)

// TestJoinWithBody: POST /workspaces/join {"token"} redeems like the path
// form (which stays), sharing its single use; the token is required;
// anonymous calls do not spend it.
func TestJoinWithBody(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, dialect string) {
		h := newHarness(t, dialect)
		alice, bob, mallory := h.user("alice@example.com"), h.user("bob@example.com"), h.user("mallory@example.com")
		ws := alice.WorkspaceID
		inv := h.invite(t, alice, ws, bob.Email, RoleAdmin)
		body := map[string]string{"token": inv.Token}

		h.do(auth.User{}, "POST", "/workspaces/join", body).expectError(t, 401, "unauthorized")
		h.do(mallory, "POST", "/workspaces/join", body).expectError(t, 403, "invalid_invite")
		h.do(bob, "POST", "/workspaces/join", map[string]string{}).expectError(t, 422, "validation_error")
		h.do(bob, "POST", "/workspaces/join", map[string]string{"token": ""}).expectError(t, 422, "validation_error")
		h.do(bob, "POST", "/workspaces/join", map[string]string{"token": inv.Token, "role": "owner"}).expectError(t, 400, "invalid_json")
		h.do(bob, "POST", "/workspaces/join", nil).expectError(t, 415, "unsupported_media_type") // no body, no Content-Type

		var m Member
		h.do(bob, "POST", "/workspaces/join", body).expect(t, 200, &m)
		if m.WorkspaceID != ws || m.UserID != bob.ID || m.Role != RoleAdmin {
			t.Fatalf("membership %+v", m)
		}
		h.do(bob, "POST", "/workspaces/join", body).expectError(t, 403, "invalid_invite")
		h.do(bob, "POST", "/workspaces/join/"+inv.Token, nil).expectError(t, 403, "invalid_invite")

		// A token spent through the path form is spent for the body form.
		carol := h.user("carol@example.com")
		other := h.invite(t, alice, ws, carol.Email, RoleMember)
		h.do(carol, "POST", "/workspaces/join/"+other.Token, nil).expect(t, 200, nil)
		h.do(carol, "POST", "/workspaces/join", map[string]string{"token": other.Token}).expectError(t, 403, "invalid_invite")
	})
}
