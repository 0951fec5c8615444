package workspaces

import (
	"context"
	"errors"
	"sync"
	"testing"

	"appkernel/auth"
	"appkernel/db/dbtest"
)

// TestConcurrentJoin: many simultaneous joins with one token, by its
// rightful user: exactly one succeeds, the rest are invalid_invite, and the
// user is a member once.
func TestConcurrentJoin(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, dialect string) {
		h := newHarness(t, dialect)
		alice, bob := h.user("alice@example.com"), h.user("bob@example.com")
		for round := range 3 {
			var w Workspace
			h.do(alice, "POST", "/workspaces", map[string]string{"name": "race"}).expect(t, 201, &w)
			inv := h.invite(t, alice, w.ID, bob.Email, RoleMember)
			const n = 8
			statuses := make([]int, n)
			var wg sync.WaitGroup
			start := make(chan struct{})
			for i := range n {
				wg.Go(func() {
					<-start
					statuses[i] = h.do(bob, "POST", "/workspaces/join/"+inv.Token, nil).Status
				})
			}
			close(start)
			wg.Wait()
			ok := 0
			for _, s := range statuses {
				switch s {
				case 200:
					ok++
				case 403:
				default:
					t.Fatalf("round %d: statuses %v", round, statuses)
				}
			}
			if ok != 1 {
				t.Fatalf("round %d: %d joins succeeded (%v), want 1", round, ok, statuses)
			}
			n2, err := h.store.CountEntities(context.Background(), tableMembers, "[workspace_id] = ? AND [user_id] = ?", w.ID, bob.ID)
			if err != nil || n2 != 1 {
				t.Fatalf("round %d: bob is a member %d times (%v)", round, n2, err)
			}
		}
	})
}

// TestConcurrentJoinGoAPI races Join through the Go API, without HTTP in
// between, so the transactions overlap as much as possible.
func TestConcurrentJoinGoAPI(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, dialect string) {
		h := newHarness(t, dialect)
		ctx := context.Background()
		alice, bob := h.user("alice@example.com"), h.user("bob@example.com")
		inv, err := h.ws.Invite(ctx, alice.ID, alice.WorkspaceID, bob.Email, RoleAdmin)
		if err != nil {
			t.Fatal(err)
		}
		const n = 8
		errs := make([]error, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() { _, errs[i] = h.ws.Join(ctx, bob, inv.Token) })
		}
		wg.Wait()
		ok := 0
		for _, err := range errs {
			switch {
			case err == nil:
				ok++
			case errors.Is(err, ErrInvalidInvite), errors.Is(err, ErrAlreadyMember):
			default:
				t.Fatalf("join: %v", err)
			}
		}
		if ok != 1 {
			t.Fatalf("%d joins succeeded, want 1: %v", ok, errs)
		}
	})
}

// TestConcurrentOwnerRemoval: owners removing each other and themselves at
// the same moment never leave a workspace without an owner.
func TestConcurrentOwnerRemoval(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, dialect string) {
		h := newHarness(t, dialect)
		ctx := context.Background()
		const owners = 4
		for round := range 3 {
			first := h.user("o0@example.com")
			us := []auth.User{first}
			for i := 1; i < owners; i++ {
				u := h.user(sprintf("o%d_%d@example.com", round, i))
				if _, err := h.ws.AddMember(ctx, first.WorkspaceID, u.ID, RoleOwner); err != nil {
					t.Fatal(err)
				}
				us = append(us, u)
			}
			ws := first.WorkspaceID
			// Every owner removes itself and the next one, all at once.
			var wg sync.WaitGroup
			var mu sync.Mutex
			var unexpected []error
			start := make(chan struct{})
			for i, u := range us {
				for _, target := range []auth.User{u, us[(i+1)%owners]} {
					wg.Go(func() {
						<-start
						err := h.ws.RemoveMember(ctx, u.ID, ws, target.ID)
						if err != nil && !errors.Is(err, ErrLastOwner) && !errors.Is(err, ErrNotFound) &&
							!errors.Is(err, ErrMemberNotFound) && !errors.Is(err, ErrBusy) {
							mu.Lock()
							unexpected = append(unexpected, err)
							mu.Unlock()
						}
					})
				}
			}
			close(start)
			wg.Wait()
			if len(unexpected) > 0 {
				t.Fatalf("round %d: %v", round, unexpected)
			}
			n, err := h.store.CountEntities(ctx, tableMembers, "[workspace_id] = ? AND [role] = ?", ws, RoleOwner)
			if err != nil || n != 1 {
				t.Fatalf("round %d: %d owners left (%v), want exactly 1", round, n, err)
			}
		}
	})
}

// TestConcurrentMutualRemoval: two owners remove each other at once, many
// times: exactly one removal wins each time.
func TestConcurrentMutualRemoval(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, dialect string) {
		h := newHarness(t, dialect)
		ctx := context.Background()
		for range 5 {
			a, b := h.user("a@example.com"), h.user("b@example.com")
			if _, err := h.ws.AddMember(ctx, a.WorkspaceID, b.ID, RoleOwner); err != nil {
				t.Fatal(err)
			}
			var wg sync.WaitGroup
			var errA, errB error
			wg.Go(func() { errA = h.ws.RemoveMember(ctx, a.ID, a.WorkspaceID, b.ID) })
			wg.Go(func() { errB = h.ws.RemoveMember(ctx, b.ID, a.WorkspaceID, a.ID) })
			wg.Wait()
			if (errA == nil) == (errB == nil) {
				t.Fatalf("both or neither removal succeeded: %v / %v", errA, errB)
			}
			n, err := h.store.CountEntities(ctx, tableMembers, "[workspace_id] = ? AND [role] = ?", a.WorkspaceID, RoleOwner)
			if err != nil || n != 1 {
				t.Fatalf("%d owners left (%v)", n, err)
			}
		}
	})
}
