package workspaces

import (
	"context"
	"errors"
	"testing"

	"appkernel/db/dbtest"

	"github.com/google/uuid"
)

// TestIsolation: a member of workspace A reads and changes nothing of
// workspace B through any route, and cannot tell B's id from an id that
// does not exist: every answer is byte-identical (but for the request id)
// to the answer for a random id.
func TestIsolation(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, dialect string) {
		h := newHarness(t, dialect)
		alice, bob, carol := h.user("alice@example.com"), h.user("bob@example.com"), h.user("carol@example.com")
		var b Workspace
		h.do(bob, "POST", "/workspaces", map[string]string{"name": "B"}).expect(t, 201, &b)
		h.join(t, bob, carol, b.ID, RoleMember)
		// Alice is an owner of her own workspaces, so role checks would pass
		// if membership were checked against the wrong workspace.
		var a Workspace
		h.do(alice, "POST", "/workspaces", map[string]string{"name": "A"}).expect(t, 201, &a)

		ghost := uuid.NewString()
		probes := []struct {
			method, path string
			body         any
			header       []string
		}{
			{"GET", "/workspaces/%s", nil, nil},
			{"GET", "/workspaces/%s/members", nil, nil},
			{"POST", "/workspaces/%s/invite", map[string]string{"email": "alice@example.com", "role": "owner"}, nil},
			{"POST", "/workspaces/%s/invite", map[string]string{"email": "bad", "role": "bad"}, nil},
			{"DELETE", "/workspaces/%s/members/" + bob.ID, nil, nil},
			{"DELETE", "/workspaces/%s/members/" + carol.ID, nil, nil},
			{"DELETE", "/workspaces/%s/members/" + alice.ID, nil, nil},
			{"GET", "/probe?workspace_id=%s", nil, nil},
			{"GET", "/app/%s/things", nil, nil},
			{"GET", "/probe/admin?workspace_id=%s", nil, nil},
		}
		for _, p := range probes {
			real := h.do(alice, p.method, sprintf(p.path, b.ID), p.body)
			fake := h.do(alice, p.method, sprintf(p.path, ghost), p.body)
			real.expectError(t, 404, "not_found")
			if real.withoutRequestID(t) != fake.withoutRequestID(t) {
				t.Errorf("%s %s: B answers %s, a missing workspace %s", p.method, p.path, real.Body, fake.Body)
			}
		}
		for _, id := range []string{b.ID, ghost} {
			h.do(alice, "GET", "/probe", nil, WorkspaceHeader, id).expectError(t, 404, "not_found")
		}
		// Ids of another kind (user ids, a member row's id) are not
		// workspaces either.
		for _, id := range []string{bob.ID, "'; DROP TABLE members; --", "%00"} {
			h.do(alice, "GET", "/probe", nil, WorkspaceHeader, id).expectError(t, 404, "not_found")
		}

		// Listing shows none of B.
		var list []Workspace
		h.do(alice, "GET", "/workspaces", nil).expect(t, 200, &list)
		for _, w := range list {
			if w.ID == b.ID || w.ID == bob.WorkspaceID {
				t.Fatalf("alice lists %+v", w)
			}
		}
		// A token of B issued to someone else does not let Alice in.
		inv := h.invite(t, bob, b.ID, "dave@example.com", RoleMember)
		h.do(alice, "POST", "/workspaces/join/"+inv.Token, nil).expectError(t, 403, "invalid_invite")

		// B is untouched.
		var ms []Member
		h.do(bob, "GET", "/workspaces/"+b.ID+"/members", nil).expect(t, 200, &ms)
		if len(ms) != 2 {
			t.Fatalf("B's members changed: %+v", ms)
		}
		n, err := h.store.CountEntities(context.Background(), tableInvites, "[workspace_id] = ? AND [invited_by] = ?", b.ID, alice.ID)
		if err != nil || n != 0 {
			t.Fatalf("alice created %d invites in B (%v)", n, err)
		}

		// The Go API keeps the same line.
		ctx := context.Background()
		if _, err := h.ws.Get(ctx, alice.ID, b.ID); !errors.Is(err, ErrNotFound) {
			t.Errorf("Get: %v", err)
		}
		if _, err := h.ws.Members(ctx, alice.ID, b.ID); !errors.Is(err, ErrNotFound) {
			t.Errorf("Members: %v", err)
		}
		if _, err := h.ws.Invite(ctx, alice.ID, b.ID, "x@example.com", RoleMember); !errors.Is(err, ErrNotFound) {
			t.Errorf("Invite: %v", err)
		}
		if err := h.ws.RemoveMember(ctx, alice.ID, b.ID, carol.ID); !errors.Is(err, ErrNotFound) {
			t.Errorf("RemoveMember: %v", err)
		}
		if _, err := h.ws.Role(ctx, b.ID, alice.ID); !errors.Is(err, ErrNotFound) {
			t.Errorf("Role: %v", err)
		}
	})
}
