package workspaces

import (
	"context"
	"errors"
	"strings"
	"testing"

	"appkernel/auth"
	"appkernel/db/dbtest"
)

// GetUser makes the harness's users the Users of a Service (as the kernel
// passes auth's service): unknown ids are auth.ErrUserNotFound.
func (h *harness) GetUser(_ context.Context, id string) (auth.User, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	u, ok := h.users[id]
	if !ok {
		return auth.User{}, auth.ErrUserNotFound
	}
	return u, nil
}

// TestMembersShowEmail: with Users set, the member list says who each
// member is; a user the directory no longer knows is listed without an
// email; without Users there is no email field at all.
func TestMembersShowEmail(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, dialect string) {
		h := newHarness(t, dialect)
		alice, bob, carol := h.user("alice@example.com"), h.user("bob@example.com"), h.user("carol@example.com")
		ws := alice.WorkspaceID
		h.join(t, alice, bob, ws, RoleAdmin)
		h.join(t, alice, carol, ws, RoleMember)
		path := "/workspaces/" + ws + "/members"

		r := h.do(bob, "GET", path, nil).expect(t, 200, nil)
		if strings.Contains(string(r.Body), `"email"`) {
			t.Fatalf("email without Users: %s", r.Body)
		}

		h.ws.SetUsers(h)
		var ms []Member
		h.do(bob, "GET", path, nil).expect(t, 200, &ms)
		if len(ms) != 3 || ms[0].Email != alice.Email || ms[1].Email != bob.Email || ms[2].Email != carol.Email ||
			ms[0].UserID != alice.ID || ms[2].UserID != carol.ID {
			t.Fatalf("members %+v", ms)
		}

		h.mu.Lock()
		delete(h.users, carol.ID)
		h.mu.Unlock()
		ms = nil // decoding into old elements would keep their emails
		h.do(bob, "GET", path, nil).expect(t, 200, &ms)
		if len(ms) != 3 || ms[2].UserID != carol.ID || ms[2].Email != "" || ms[0].Email != alice.Email {
			t.Fatalf("members after carol's account went %+v", ms)
		}

		h.ws.SetUsers(nil)
		ms = nil
		h.do(bob, "GET", path, nil).expect(t, 200, &ms)
		if ms[0].Email != "" {
			t.Fatalf("email after SetUsers(nil): %+v", ms)
		}
	})
}

// failingUsers is a directory that is down.
type failingUsers struct{}

var errDirectoryDown = errors.New("directory down")

func (failingUsers) GetUser(context.Context, string) (auth.User, error) {
	return auth.User{}, errDirectoryDown
}

// TestMembersUsersConfig: Config.Users works like SetUsers, and a failing
// lookup fails the list rather than hiding who the members are.
func TestMembersUsersConfig(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	store := openStore(t, "sqlite")
	dir := &harness{users: map[string]auth.User{"alice": {ID: "alice", Email: "alice@example.com"}}}
	s := New(Config{Store: store, Users: dir})
	if err := s.Init(ctx); err != nil {
		t.Fatal(err)
	}
	w, err := s.Create(ctx, "alice", "Acme")
	if err != nil {
		t.Fatal(err)
	}
	ms, err := s.Members(ctx, "alice", w.ID)
	if err != nil || len(ms) != 1 || ms[0].Email != "alice@example.com" {
		t.Fatalf("Members = %+v, %v", ms, err)
	}
	s.SetUsers(failingUsers{})
	if _, err := s.Members(ctx, "alice", w.ID); !errors.Is(err, errDirectoryDown) {
		t.Fatalf("Members with a failing directory: %v", err)
	}
}
