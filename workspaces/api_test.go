package workspaces

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"appkernel/auth"
	"appkernel/db"
	"appkernel/db/dbtest"
	"appkernel/middleware"
)

var errRollback = errors.New("roll back")

func TestConfigValidation(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	err := New(Config{}).Init(ctx)
	if err == nil || !strings.Contains(err.Error(), "Config.Store") {
		t.Fatalf("Init without store: %v", err)
	}
	if _, err := New(Config{}).Create(ctx, "u", "x"); err == nil {
		t.Fatal("Create on an unconfigured service succeeded")
	}
	store := openStore(t, "sqlite")
	err = New(Config{Store: store, InviteTTL: -time.Hour}).Init(ctx)
	if err == nil || !strings.Contains(err.Error(), "Config.InviteTTL") {
		t.Fatalf("Init with negative TTL: %v", err)
	}
	s := New(Config{Store: store})
	for range 2 { // idempotent
		if err := s.Init(ctx); err != nil {
			t.Fatal(err)
		}
	}
}

func TestRoles(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		role, min string
		want      bool
	}{
		{RoleOwner, RoleAdmin, true}, {RoleAdmin, RoleAdmin, true}, {RoleMember, RoleAdmin, false},
		{RoleMember, RoleMember, true}, {"", RoleMember, false}, {"root", RoleMember, false}, {RoleAdmin, RoleOwner, false},
	} {
		if got := AtLeast(c.role, c.min); got != c.want {
			t.Errorf("AtLeast(%q, %q) = %v", c.role, c.min, got)
		}
	}
	defer func() {
		if recover() == nil {
			t.Error("RequireRole(\"root\") did not panic at construction")
		}
	}()
	New(Config{}).RequireRole("root")
}

func TestErrorsRender(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		err    error
		status int
		code   string
	}{
		{ErrNotFound, 404, "not_found"},
		{ErrMemberNotFound, 404, "not_found"},
		{ErrForbidden, 403, "forbidden"},
		{invalid("name is required"), 422, "validation_error"},
		{ErrLastOwner, 409, "last_owner"},
		{ErrAlreadyMember, 409, "already_member"},
		{ErrInvalidInvite, 403, "invalid_invite"},
	} {
		status, code, _ := middleware.Classify(c.err)
		if status != c.status || code != c.code {
			t.Errorf("%v renders as %d %s", c.err, status, code)
		}
	}
	if !errors.Is(ErrInvalidInvite, auth.ErrInvalidInvite) {
		t.Error("ErrInvalidInvite does not match auth.ErrInvalidInvite")
	}
	if !errors.Is(invalid("x"), ErrValidation) {
		t.Error("validation errors do not match ErrValidation")
	}
}

func TestHooksInTransaction(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, dialect string) {
		h := newHarness(t, dialect)
		ctx := context.Background()
		alice := h.user("alice@example.com")

		// A registration that rolls back leaves no personal workspace.
		ghost := auth.User{ID: "ghost-user", Email: "ghost@example.com"}
		err := h.store.Tx(ctx, func(tx *db.Store) error {
			if _, err := h.ws.CreatePersonal(ctx, tx, ghost); err != nil {
				return err
			}
			return errRollback
		})
		if !errors.Is(err, errRollback) {
			t.Fatal(err)
		}
		if list, err := h.ws.ListForUser(ctx, ghost.ID); err != nil || len(list) != 0 {
			t.Fatalf("after rollback: %+v %v", list, err)
		}

		// An invite accepted in a rolled-back registration stays unspent.
		inv, err := h.ws.Invite(ctx, alice.ID, alice.WorkspaceID, "bob@example.com", RoleAdmin)
		if err != nil {
			t.Fatal(err)
		}
		bob := auth.User{ID: "bob-user", Email: "bob@example.com"}
		err = h.store.Tx(ctx, func(tx *db.Store) error {
			ws, err := h.ws.AcceptInvite(ctx, tx, inv.Token, bob)
			if err != nil || ws != alice.WorkspaceID {
				t.Errorf("AcceptInvite = %q, %v", ws, err)
			}
			return errRollback
		})
		if !errors.Is(err, errRollback) {
			t.Fatal(err)
		}
		if ok, err := h.ws.IsMember(ctx, alice.WorkspaceID, bob.ID); ok || err != nil {
			t.Fatalf("member after rollback: %v %v", ok, err)
		}
		var wsID string
		err = h.store.Tx(ctx, func(tx *db.Store) error {
			if _, err := h.ws.CreatePersonal(ctx, tx, bob); err != nil {
				return err
			}
			wsID, err = h.ws.AcceptInvite(ctx, tx, inv.Token, bob)
			return err
		})
		if err != nil || wsID != alice.WorkspaceID {
			t.Fatalf("AcceptInvite after rollback: %q %v", wsID, err)
		}
		if role, err := h.ws.Role(ctx, alice.WorkspaceID, bob.ID); role != RoleAdmin || err != nil {
			t.Fatalf("bob's role %q %v", role, err)
		}
		// Spent now, and the error is auth's sentinel for register.
		err = h.store.Tx(ctx, func(tx *db.Store) error {
			_, err := h.ws.AcceptInvite(ctx, tx, inv.Token, bob)
			return err
		})
		if !errors.Is(err, auth.ErrInvalidInvite) {
			t.Fatalf("second AcceptInvite: %v", err)
		}
	})
}

func TestAddMemberAndIsMember(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, dialect string) {
		h := newHarness(t, dialect)
		ctx := context.Background()
		alice := h.user("alice@example.com")
		if _, err := h.ws.AddMember(ctx, alice.WorkspaceID, "bob", "boss"); !errors.Is(err, ErrValidation) {
			t.Errorf("bad role: %v", err)
		}
		if _, err := h.ws.AddMember(ctx, "no-such-workspace", "bob", RoleMember); !errors.Is(err, ErrNotFound) {
			t.Errorf("missing workspace: %v", err)
		}
		if _, err := h.ws.AddMember(ctx, alice.WorkspaceID, alice.ID, RoleMember); !errors.Is(err, ErrAlreadyMember) {
			t.Errorf("duplicate: %v", err)
		}
		m, err := h.ws.AddMember(ctx, alice.WorkspaceID, "bob", RoleMember)
		if err != nil || m.Role != RoleMember || m.UserID != "bob" {
			t.Fatalf("AddMember = %+v, %v", m, err)
		}
		for _, c := range []struct {
			ws, user string
			want     bool
		}{{alice.WorkspaceID, "bob", true}, {alice.WorkspaceID, alice.ID, true}, {alice.WorkspaceID, "carol", false}, {"nope", "bob", false}, {"", "", false}} {
			if got, err := h.ws.IsMember(ctx, c.ws, c.user); got != c.want || err != nil {
				t.Errorf("IsMember(%q, %q) = %v, %v", c.ws, c.user, got, err)
			}
		}
		if _, err := h.ws.Create(ctx, alice.ID, " "); !errors.Is(err, ErrValidation) {
			t.Errorf("Create with a blank name: %v", err)
		}
	})
}
