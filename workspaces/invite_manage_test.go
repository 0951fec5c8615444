package workspaces

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"appkernel/db/dbtest"

	"github.com/google/uuid"
)

// TestListInvites: owners and admins see the open invites of their
// workspace (never a token or its hash); used, revoked and expired ones are
// gone from the list; members get 403, others 404.
func TestListInvites(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, dialect string) {
		h := newHarness(t, dialect)
		ctx := context.Background()
		alice, bob, carol := h.user("alice@example.com"), h.user("bob@example.com"), h.user("carol@example.com")
		ws := alice.WorkspaceID
		h.join(t, alice, bob, ws, RoleAdmin)
		h.join(t, alice, carol, ws, RoleMember)
		path := "/workspaces/" + ws + "/invites"

		first := h.invite(t, alice, ws, "dave@example.com", RoleAdmin)
		second := h.invite(t, bob, ws, "erin@example.com", RoleMember)
		used := h.invite(t, alice, ws, "frank@example.com", RoleMember)
		h.do(h.user("frank@example.com"), "POST", "/workspaces/join/"+used.Token, nil).expect(t, 200, nil)
		expired := h.invite(t, alice, ws, "gina@example.com", RoleMember)
		if _, err := h.store.SaveEntity(ctx, tableInvites, map[string]any{"id": expired.ID, "expires_at": time.Now().Add(-time.Second).UTC()}); err != nil {
			t.Fatal(err)
		}
		revoked := h.invite(t, alice, ws, "hank@example.com", RoleMember)
		h.do(alice, "DELETE", path+"/"+revoked.ID, nil).expect(t, 204, nil)
		// Another workspace's invite is not listed here.
		h.invite(t, bob, bob.WorkspaceID, "ivan@example.com", RoleMember)

		for _, by := range []struct {
			name string
			r    response
		}{{"owner", h.do(alice, "GET", path, nil)}, {"admin", h.do(bob, "GET", path, nil)}} {
			var list []Invitation
			by.r.expect(t, 200, &list)
			if len(list) != 2 || list[0].ID != first.ID || list[1].ID != second.ID {
				t.Fatalf("%s lists %s", by.name, by.r.Body)
			}
			if l := list[0]; l.Email != "dave@example.com" || l.Role != RoleAdmin || l.InvitedBy != alice.ID ||
				l.ExpiresAt != first.ExpiresAt || l.WorkspaceID != ws || l.Token != "" {
				t.Fatalf("%s lists %+v, want %+v", by.name, l, first)
			}
			if list[1].InvitedBy != bob.ID {
				t.Fatalf("invited_by %q, want bob", list[1].InvitedBy)
			}
			body := string(by.r.Body)
			for _, secret := range []string{"token", hashToken(first.Token), strings.TrimPrefix(first.Token, InviteTokenPrefix)} {
				if strings.Contains(body, secret) {
					t.Fatalf("the list shows %q: %s", secret, body)
				}
			}
			var raw []map[string]any
			_ = json.Unmarshal(by.r.Body, &raw)
			for _, k := range []string{"id", "email", "role", "expires_at", "invited_by"} {
				if _, ok := raw[0][k]; !ok {
					t.Fatalf("no %q in %s", k, body)
				}
			}
		}
		h.do(carol, "GET", path, nil).expectError(t, 403, "forbidden")
		h.do(h.user("x@example.com"), "GET", path, nil).expectError(t, 404, "not_found")

		// The Go API says the same.
		if list, err := h.ws.ListInvites(ctx, alice.ID, ws); err != nil || len(list) != 2 {
			t.Fatalf("ListInvites = %+v, %v", list, err)
		}
		if _, err := h.ws.ListInvites(ctx, carol.ID, ws); !errors.Is(err, ErrForbidden) {
			t.Fatalf("ListInvites by a member: %v", err)
		}
		if _, err := h.ws.ListInvites(ctx, "stranger", ws); !errors.Is(err, ErrNotFound) {
			t.Fatalf("ListInvites by a stranger: %v", err)
		}
	})
}

// TestRevokeInvite: a revoked invite cannot be redeemed (join or register);
// revoking is idempotent; used and unknown invites are 404; admins revoke
// admin and member invites but not an owner invite; members get 403.
func TestRevokeInvite(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, dialect string) {
		h := newHarness(t, dialect)
		ctx := context.Background()
		alice, bob, carol := h.user("alice@example.com"), h.user("bob@example.com"), h.user("carol@example.com")
		ws := alice.WorkspaceID
		h.join(t, alice, bob, ws, RoleAdmin)
		h.join(t, alice, carol, ws, RoleMember)
		path := "/workspaces/" + ws + "/invites/"
		dave := h.user("dave@example.com")

		inv := h.invite(t, alice, ws, dave.Email, RoleMember)
		h.do(carol, "DELETE", path+inv.ID, nil).expectError(t, 403, "forbidden")
		h.do(bob, "DELETE", path+inv.ID, nil).expect(t, 204, nil)
		h.do(bob, "DELETE", path+inv.ID, nil).expect(t, 204, nil) // idempotent
		h.do(dave, "POST", "/workspaces/join/"+inv.Token, nil).expectError(t, 403, "invalid_invite")
		if _, err := h.ws.AcceptInvite(ctx, h.store, inv.Token, dave); !errors.Is(err, ErrInvalidInvite) {
			t.Fatalf("AcceptInvite of a revoked invite: %v", err)
		}

		owner := h.invite(t, alice, ws, dave.Email, RoleOwner)
		h.do(bob, "DELETE", path+owner.ID, nil).expectError(t, 403, "forbidden")
		if err := h.ws.RevokeInvite(ctx, alice.ID, ws, owner.ID); err != nil {
			t.Fatalf("RevokeInvite by the owner: %v", err)
		}
		h.do(dave, "POST", "/workspaces/join/"+owner.Token, nil).expectError(t, 403, "invalid_invite")

		used := h.invite(t, alice, ws, dave.Email, RoleMember)
		h.do(dave, "POST", "/workspaces/join/"+used.Token, nil).expect(t, 200, nil)
		h.do(alice, "DELETE", path+used.ID, nil).expectError(t, 404, "not_found")
		h.do(alice, "DELETE", path+uuid.NewString(), nil).expectError(t, 404, "not_found")
		if err := h.ws.RevokeInvite(ctx, alice.ID, ws, "nope"); !errors.Is(err, ErrInviteNotFound) {
			t.Fatalf("RevokeInvite of an unknown id: %v", err)
		}
		if err := h.ws.RevokeInvite(ctx, carol.ID, ws, used.ID); !errors.Is(err, ErrForbidden) {
			t.Fatalf("RevokeInvite by a member: %v", err)
		}
	})
}

// TestInviteIsolation: an owner of workspace A cannot list B's invites nor
// revoke one of them, neither through B's path (404 as for a missing
// workspace) nor by naming B's invite under A's path (404, and the invite
// still works).
func TestInviteIsolation(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, dialect string) {
		h := newHarness(t, dialect)
		ctx := context.Background()
		alice, bob, carol := h.user("alice@example.com"), h.user("bob@example.com"), h.user("carol@example.com")
		b := bob.WorkspaceID
		inv := h.invite(t, bob, b, carol.Email, RoleMember)
		ghost := uuid.NewString()

		for _, p := range []struct{ method, path string }{
			{"GET", "/workspaces/%s/invites"},
			{"DELETE", "/workspaces/%s/invites/" + inv.ID},
		} {
			real := h.do(alice, p.method, sprintf(p.path, b), nil)
			fake := h.do(alice, p.method, sprintf(p.path, ghost), nil)
			real.expectError(t, 404, "not_found")
			if real.withoutRequestID(t) != fake.withoutRequestID(t) {
				t.Errorf("%s %s: B answers %s, a missing workspace %s", p.method, p.path, real.Body, fake.Body)
			}
		}
		h.do(alice, "DELETE", "/workspaces/"+alice.WorkspaceID+"/invites/"+inv.ID, nil).expectError(t, 404, "not_found")
		if err := h.ws.RevokeInvite(ctx, alice.ID, alice.WorkspaceID, inv.ID); !errors.Is(err, ErrInviteNotFound) {
			t.Fatalf("RevokeInvite of B's invite under A: %v", err)
		}
		if err := h.ws.RevokeInvite(ctx, alice.ID, b, inv.ID); !errors.Is(err, ErrNotFound) {
			t.Fatalf("RevokeInvite in B by a stranger: %v", err)
		}
		var list []Invitation
		h.do(alice, "GET", "/workspaces/"+alice.WorkspaceID+"/invites", nil).expect(t, 200, &list)
		if len(list) != 0 {
			t.Fatalf("A lists %+v", list)
		}
		h.do(carol, "POST", "/workspaces/join/"+inv.Token, nil).expect(t, 200, nil)
	})
}

// TestConcurrentRevokeAndJoin: a revoke racing a join of the same invite:
// exactly one wins. Either the join succeeds and the revoke is 404, or the
// revoke is 204 and the join is refused.
func TestConcurrentRevokeAndJoin(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, dialect string) {
		h := newHarness(t, dialect)
		alice, bob := h.user("alice@example.com"), h.user("bob@example.com")
		for round := range 4 {
			var w Workspace
			h.do(alice, "POST", "/workspaces", map[string]string{"name": "race"}).expect(t, 201, &w)
			inv := h.invite(t, alice, w.ID, bob.Email, RoleMember)
			var join, revoke int
			var wg sync.WaitGroup
			start := make(chan struct{})
			wg.Go(func() { <-start; join = h.do(bob, "POST", "/workspaces/join/"+inv.Token, nil).Status })
			wg.Go(func() { <-start; revoke = h.do(alice, "DELETE", "/workspaces/"+w.ID+"/invites/"+inv.ID, nil).Status })
			close(start)
			wg.Wait()
			member, err := h.ws.IsMember(context.Background(), w.ID, bob.ID)
			if err != nil {
				t.Fatal(err)
			}
			if !(join == 200 && revoke == 404 && member) && !(join == 403 && revoke == 204 && !member) {
				t.Fatalf("round %d: join %d, revoke %d, member %v", round, join, revoke, member)
			}
		}
	})
}
