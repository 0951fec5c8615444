package workspaces

import (
	"context"
	"errors"
	"testing"
	"time"

	"appkernel/db/dbtest"
)

// TestCheckInvite: CheckInvite (what auth asks before hashing a
// registering user's password) accepts an open invite for its email and
// refuses a made-up, mis-addressed, used, revoked or expired one, without
// consuming anything.
func TestCheckInvite(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, dialect string) {
		h := newHarness(t, dialect)
		ctx := context.Background()
		alice := h.user("alice@example.com")
		ws := alice.WorkspaceID
		open := h.invite(t, alice, ws, "bob@example.com", RoleMember)
		used := h.invite(t, alice, ws, "carol@example.com", RoleMember)
		h.do(h.user("carol@example.com"), "POST", "/workspaces/join/"+used.Token, nil).expect(t, 200, nil)
		revoked := h.invite(t, alice, ws, "dave@example.com", RoleMember)
		h.do(alice, "DELETE", "/workspaces/"+ws+"/invites/"+revoked.ID, nil).expect(t, 204, nil)
		expired := h.invite(t, alice, ws, "erin@example.com", RoleMember)
		if _, err := h.store.SaveEntity(ctx, tableInvites, map[string]any{"id": expired.ID, "expires_at": time.Now().Add(-time.Second).UTC()}); err != nil {
			t.Fatal(err)
		}

		if err := h.ws.CheckInvite(ctx, open.Token, "Bob@Example.com"); err != nil {
			t.Fatalf("open invite: %v", err)
		}
		for name, c := range map[string]struct{ token, email string }{
			"made up":           {InviteTokenPrefix + "made-up", "bob@example.com"},
			"no prefix":         {"made-up", "bob@example.com"},
			"issued to another": {open.Token, "mallory@example.com"},
			"used":              {used.Token, "carol@example.com"},
			"revoked":           {revoked.Token, "dave@example.com"},
			"expired":           {expired.Token, "erin@example.com"},
		} {
			if err := h.ws.CheckInvite(ctx, c.token, c.email); !errors.Is(err, ErrInvalidInvite) {
				t.Errorf("%s: %v, want ErrInvalidInvite", name, err)
			}
		}
		// Nothing was consumed: the open invite still brings Bob in.
		h.do(h.user("bob@example.com"), "POST", "/workspaces/join/"+open.Token, nil).expect(t, 200, nil)
	})
}
