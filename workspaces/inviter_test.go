package workspaces

import (
	"context"
	"errors"
	"testing"

	"appkernel/auth"
	"appkernel/db"
	"appkernel/db/dbtest"
)

// TestInviteDiesWithInviter: an admin mints admin invites for addresses they
// control, is removed, and tries to come back through them, by joining and
// by registering (AcceptInvite). Every such invite is revoked at the removal
// and refused at redemption; invites of other members live on.
func TestInviteDiesWithInviter(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, dialect string) {
		h := newHarness(t, dialect)
		ctx := context.Background()
		alice, bob, carol := h.user("alice@example.com"), h.user("bob@example.com"), h.user("carol@example.com")
		ws := alice.WorkspaceID
		h.join(t, alice, bob, ws, RoleAdmin)
		h.join(t, alice, carol, ws, RoleAdmin)

		sock := h.invite(t, bob, ws, "bob.sock@example.com", RoleAdmin)
		fresh := h.invite(t, bob, ws, "bob.fresh@example.com", RoleAdmin)
		byCarol := h.invite(t, carol, ws, "erin@example.com", RoleMember)
		byAlice := h.invite(t, alice, ws, "frank@example.com", RoleAdmin)

		h.do(alice, "DELETE", "/workspaces/"+ws+"/members/"+bob.ID, nil).expect(t, 204, nil)

		// Through the join route.
		bobSock := h.user("bob.sock@example.com")
		h.do(bobSock, "POST", "/workspaces/join/"+sock.Token, nil).expectError(t, 403, "invalid_invite")
		h.do(bobSock, "GET", "/workspaces/"+ws+"/members", nil).expectError(t, 404, "not_found")
		// Through registration.
		newcomer := auth.User{ID: "bob-fresh", Email: "bob.fresh@example.com"}
		err := h.store.Tx(ctx, func(tx *db.Store) error {
			_, err := h.ws.AcceptInvite(ctx, tx, fresh.Token, newcomer)
			return err
		})
		if !errors.Is(err, auth.ErrInvalidInvite) {
			t.Fatalf("AcceptInvite of a removed admin's invite: %v", err)
		}
		if ok, _ := h.ws.IsMember(ctx, ws, newcomer.ID); ok {
			t.Fatal("the removed admin's invite made a member")
		}

		// The removal marked them revoked, and only them.
		for _, c := range []struct {
			inv     Invitation
			revoked bool
		}{{sock, true}, {fresh, true}, {byCarol, false}, {byAlice, false}} {
			e, err := h.store.GetEntity(ctx, tableInvites, c.inv.ID)
			if err != nil {
				t.Fatal(err)
			}
			if got := str(e, "revoked_at") != ""; got != c.revoked {
				t.Errorf("invite to %s: revoked %v, want %v", c.inv.Email, got, c.revoked)
			}
		}
		h.do(h.user("erin@example.com"), "POST", "/workspaces/join/"+byCarol.Token, nil).expect(t, 200, nil)
		h.do(h.user("frank@example.com"), "POST", "/workspaces/join/"+byAlice.Token, nil).expect(t, 200, nil)

		// Bob coming back (through a new invite) does not revive his old
		// invites.
		h.join(t, alice, bob, ws, RoleAdmin)
		h.do(bobSock, "POST", "/workspaces/join/"+sock.Token, nil).expectError(t, 403, "invalid_invite")
	})
}

// TestInviteNeedsInviterRank: the inviter's role is checked when the invite
// is redeemed, not only when it is made: an admin whose role is lowered
// (here by a direct change of the membership row, as an app's own code
// might do) no longer lets admin invites in; invites within the new role
// still work. Leaving also revokes one's invites.
func TestInviteNeedsInviterRank(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, dialect string) {
		h := newHarness(t, dialect)
		ctx := context.Background()
		alice, bob := h.user("alice@example.com"), h.user("bob@example.com")
		ws := alice.WorkspaceID
		h.join(t, alice, bob, ws, RoleAdmin)
		asAdmin := h.invite(t, bob, ws, "carol@example.com", RoleAdmin)
		asMember := h.invite(t, bob, ws, "dave@example.com", RoleMember)

		row, err := findMember(ctx, h.store, ws, bob.ID)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := h.store.SaveEntity(ctx, tableMembers, map[string]any{"id": str(row, "id"), "role": RoleMember}); err != nil {
			t.Fatal(err)
		}
		carol, dave := h.user("carol@example.com"), h.user("dave@example.com")
		h.do(carol, "POST", "/workspaces/join/"+asAdmin.Token, nil).expectError(t, 403, "invalid_invite")
		var m Member
		h.do(dave, "POST", "/workspaces/join/"+asMember.Token, nil).expect(t, 200, &m)
		if m.Role != RoleMember {
			t.Fatalf("dave joined as %q", m.Role)
		}

		// An owner's owner invite dies when the owner leaves.
		var team Workspace
		h.do(alice, "POST", "/workspaces", map[string]string{"name": "Team"}).expect(t, 201, &team)
		h.join(t, alice, bob, team.ID, RoleOwner)
		owners := h.invite(t, bob, team.ID, "carol@example.com", RoleOwner)
		h.do(bob, "DELETE", "/workspaces/"+team.ID+"/members/"+bob.ID, nil).expect(t, 204, nil)
		h.do(carol, "POST", "/workspaces/join/"+owners.Token, nil).expectError(t, 403, "invalid_invite")
		e, err := h.store.GetEntity(ctx, tableInvites, owners.ID)
		if err != nil || str(e, "revoked_at") == "" || str(e, "revoked_by") != bob.ID {
			t.Fatalf("owner invite after the owner left: %v %v", e, err)
		}
	})
}
