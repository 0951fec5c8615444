package workspaces

import (
	"testing"

	"appkernel/db/dbtest"
)

// TestInviteEmailIsCanonical: an invite's email gets auth's canonical
// form, so an invite written "ＢＯＢ@Example.com" is Bob's; a lookalike
// (mixed scripts, zero-width or direction characters) is refused with the
// reason.
func TestInviteEmailIsCanonical(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, dialect string) {
		h := newHarness(t, dialect)
		alice := h.user("alice@example.com")
		inv := h.invite(t, alice, alice.WorkspaceID, "ＢＯＢ@Example.com", RoleMember)
		if inv.Email != "bob@example.com" {
			t.Fatalf("invite email %q, want bob@example.com", inv.Email)
		}
		h.do(h.user("bob@example.com"), "POST", "/workspaces/join/"+inv.Token, nil).expect(t, 200, nil)
		for _, email := range []string{"b\u043eb@example.com", "bob\u200b@example.com", "bob\u202e@example.com"} {
			r := h.do(alice, "POST", "/workspaces/"+alice.WorkspaceID+"/invite", map[string]string{"email": email})
			r.expectError(t, ErrValidation.status, ErrValidation.code)
		}
	})
}
