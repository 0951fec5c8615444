package auth

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"appkernel/db/dbtest"
)

func keysOf(m map[string]any) []string {
	var k []string
	for key := range m {
		k = append(k, key)
	}
	slices.Sort(k)
	return k
}

func TestRegisterFirstUserBecomesAdmin(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, dialect string) {
		h := newHarness(t, dialect)
		r := h.do("POST", "/auth/register", map[string]string{"email": "  Boss@Example.COM ", "password": "first-user-pw"})
		if r.status != http.StatusCreated {
			t.Fatalf("status %d, body %s", r.status, r.body)
		}
		body := r.json(t)
		if got := keysOf(body); !slices.Equal(got, []string{"access_token", "device_token", "expires_in", "refresh_token", "token_type", "user"}) {
			t.Fatalf("body keys %v", got)
		}
		if body["token_type"] != "bearer" || body["expires_in"] != float64(86400) {
			t.Fatalf("token_type %v expires_in %v", body["token_type"], body["expires_in"])
		}
		user := body["user"].(map[string]any)
		if got := keysOf(user); !slices.Equal(got, []string{"created_at", "email", "email_verified", "id", "is_active", "role", "workspace_id"}) {
			t.Fatalf("user keys %v", got)
		}
		if user["email"] != "boss@example.com" || user["role"] != "admin" || user["is_active"] != true || user["workspace_id"] == "" || user["email_verified"] != false {
			t.Fatalf("user %v", user)
		}
		if rt := body["refresh_token"].(string); len(rt) < 43 {
			t.Fatalf("refresh token %q is shorter than 256 bits", rt)
		}
		// The personal workspace exists and the user owns it.
		if ok, _ := h.ws.IsMember(context.Background(), user["workspace_id"].(string), user["id"].(string)); !ok {
			t.Fatal("user is not a member of the personal workspace")
		}
		// The access token works.
		me := h.do("GET", "/auth/me", nil, bearerH(body["access_token"].(string))...)
		if me.status != 200 || me.json(t)["id"] != user["id"] {
			t.Fatalf("/auth/me %d %s", me.status, me.body)
		}
	})
}

func TestRegisterSignupDisabled(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, dialect string) {
		h := newHarness(t, dialect)
		h.register("first@example.com", "first-user-pw")
		r := h.do("POST", "/auth/register", map[string]string{"email": "second@example.com", "password": "second-user-pw"})
		if r.status != http.StatusForbidden || r.code(t) != "signup_disabled" {
			t.Fatalf("second registration: %d %s", r.status, r.body)
		}
		if _, err := h.auth.GetUserByEmail(context.Background(), "second@example.com"); !errors.Is(err, ErrUserNotFound) {
			t.Fatalf("refused user was stored: %v", err)
		}
	})
}

func TestRegisterSelfSignupOpen(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, dialect string) {
		h := newHarness(t, dialect, withSignup)
		first := h.register("first@example.com", "first-user-pw")
		second := h.register("second@example.com", "second-user-pw")
		if first.User.Role != RoleAdmin || second.User.Role != RoleUser {
			t.Fatalf("roles %q, %q; want admin, user", first.User.Role, second.User.Role)
		}
		if second.User.WorkspaceID == "" || second.User.WorkspaceID == first.User.WorkspaceID {
			t.Fatalf("second user's workspace %q (first %q)", second.User.WorkspaceID, first.User.WorkspaceID)
		}
	})
}

func TestRegisterWithInvite(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, dialect string) {
		h := newHarness(t, dialect)
		owner := h.register("owner@example.com", "owner-password")
		h.invite(owner.User.WorkspaceID, "guest@example.com", "invite-1")
		h.invite(owner.User.WorkspaceID, "other@example.com", "invite-2")

		for name, tc := range map[string]struct{ email, token string }{
			"unknown token":     {"guest@example.com", "no-such-invite"},
			"issued to another": {"guest@example.com", "invite-2"},
			"stranger":          {"stranger@example.com", "invite-1"},
		} {
			r := h.do("POST", "/auth/register", map[string]string{"email": tc.email, "password": "guest-password", "invite_token": tc.token})
			if r.status != http.StatusForbidden || r.code(t) != "invalid_invite" {
				t.Fatalf("%s: %d %s, want 403 invalid_invite", name, r.status, r.body)
			}
		}
		r := h.do("POST", "/auth/register", map[string]string{"email": "Guest@Example.com", "password": "guest-password", "invite_token": "invite-1"})
		s := h.decodeSession(r, http.StatusCreated)
		if s.User.Role != RoleUser {
			t.Fatalf("invited user role %q", s.User.Role)
		}
		// The personal workspace is current; the invited one is joined too.
		if s.User.WorkspaceID == owner.User.WorkspaceID || s.User.WorkspaceID == "" {
			t.Fatalf("current workspace %q, want a personal one", s.User.WorkspaceID)
		}
		if ok, _ := h.ws.IsMember(context.Background(), owner.User.WorkspaceID, s.User.ID); !ok {
			t.Fatal("invited user did not join the workspace")
		}
		// Single use: a second registration with the spent invite is refused.
		r = h.do("POST", "/auth/register", map[string]string{"email": "guest2@example.com", "password": "guest-password", "invite_token": "invite-1"})
		if r.status != http.StatusForbidden {
			t.Fatalf("spent invite: %d %s", r.status, r.body)
		}
	})
}

func TestRegisterEmailNormalizedAndUnique(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, dialect string) {
		h := newHarness(t, dialect, withSignup)
		h.register("Ann@Example.com", "ann-password")
		r := h.do("POST", "/auth/register", map[string]string{"email": " ann@EXAMPLE.com", "password": "another-password"})
		if r.status != http.StatusConflict || r.code(t) != "email_taken" {
			t.Fatalf("duplicate email: %d %s", r.status, r.body)
		}
		s := h.login("ANN@example.COM  ", "ann-password")
		if s.User.Email != "ann@example.com" {
			t.Fatalf("email %q", s.User.Email)
		}
	})
}

func TestRegisterValidation(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, dialect string) {
		h := newHarness(t, dialect, withSignup)
		for _, tc := range []struct {
			email, password, code string
		}{
			{"not-an-email", "good-password", "invalid_email"},
			{"", "good-password", "invalid_email"},
			{"Name <a@example.com>", "good-password", "invalid_email"},
			{"a@example.com", "short", "invalid_password"},
			{"a@example.com", "password123", "invalid_password"},
			{"a@example.com", "QWERTYUIOP", "invalid_password"},
			{"a@example.com", strings.Repeat("p", 1025), "invalid_password"},
		} {
			r := h.do("POST", "/auth/register", map[string]string{"email": tc.email, "password": tc.password})
			if r.status != http.StatusUnprocessableEntity || r.code(t) != tc.code {
				t.Errorf("register(%q, %.12q): %d %s, want 422 %s", tc.email, tc.password, r.status, r.body, tc.code)
			}
		}
		r := h.do("POST", "/auth/register", map[string]string{"email": "a@example.com", "password": strings.Repeat("p", 1024)})
		if r.status != http.StatusCreated {
			t.Fatalf("1024-byte password: %d %s", r.status, r.body)
		}
		r = h.do("POST", "/auth/register", map[string]any{"email": "b@example.com", "password": "good-password", "role": "admin"})
		if r.status != http.StatusBadRequest {
			t.Fatalf("unknown field role: %d %s", r.status, r.body)
		}
	})
}

func TestRegisterConcurrentFirstUsersMakeOneAdmin(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, dialect string) {
		for _, open := range []bool{false, true} {
			t.Run(fmt.Sprintf("signup_open=%v", open), func(t *testing.T) {
				var opts []harnessOption
				if open {
					opts = append(opts, withSignup)
				}
				h := newHarness(t, dialect, opts...)
				const n = 8
				statuses := make([]int, n)
				roles := make([]string, n)
				var wg sync.WaitGroup
				start := make(chan struct{})
				for i := range n {
					wg.Go(func() {
						<-start
						r := h.do("POST", "/auth/register", map[string]string{"email": fmt.Sprintf("u%d@example.com", i), "password": "racing-password"})
						statuses[i] = r.status
						if r.status == http.StatusCreated {
							var s session
							_ = json.Unmarshal(r.body, &s)
							roles[i] = s.User.Role
						}
					})
				}
				close(start)
				wg.Wait()
				admins, created, refused := 0, 0, 0
				for i := range n {
					switch statuses[i] {
					case http.StatusCreated:
						created++
						if roles[i] == RoleAdmin {
							admins++
						}
					case http.StatusForbidden:
						refused++
					default:
						t.Errorf("registration %d: status %d", i, statuses[i])
					}
				}
				if admins != 1 {
					t.Fatalf("%d admins among %d concurrent first registrations, want exactly 1 (statuses %v)", admins, n, statuses)
				}
				if open && created != n || !open && (created != 1 || refused != n-1) {
					t.Fatalf("created %d refused %d (statuses %v)", created, refused, statuses)
				}
				cnt, err := h.store.CountEntities(context.Background(), TableUsers, "[role] = ?", RoleAdmin)
				if err != nil || cnt != 1 {
					t.Fatalf("admins stored: %d, %v", cnt, err)
				}
			})
		}
	})
}

func TestRegisterConcurrentDuplicateEmail(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, dialect string) {
		h := newHarness(t, dialect, withSignup)
		h.register("first@example.com", "first-user-pw")
		const n = 6
		statuses := make([]int, n)
		var wg sync.WaitGroup
		start := make(chan struct{})
		for i := range n {
			wg.Go(func() {
				<-start
				// Different spellings of one address.
				email := []string{"dup@example.com", "DUP@example.com", " dup@Example.com"}[i%3]
				statuses[i] = h.do("POST", "/auth/register", map[string]string{"email": email, "password": "racing-password"}).status
			})
		}
		close(start)
		wg.Wait()
		slices.Sort(statuses)
		want := []int{201, 409, 409, 409, 409, 409}
		if !slices.Equal(statuses, want) {
			t.Fatalf("statuses %v, want %v", statuses, want)
		}
		cnt, _ := h.store.CountEntities(context.Background(), TableUsers, "[email] = ?", "dup@example.com")
		if cnt != 1 {
			t.Fatalf("%d users with the email", cnt)
		}
		// The losers left no personal workspace behind (same transaction).
		ws, _ := h.store.CountEntities(context.Background(), "fake_workspaces", "[name] = ?", "dup@example.com")
		if ws != 1 {
			t.Fatalf("%d personal workspaces for one user", ws)
		}
	})
}

func TestRegisterWithoutWorkspaces(t *testing.T) {
	t.Parallel()
	h := newHarness(t, "sqlite", withoutWorkspaces)
	s := h.register("solo@example.com", "solo-password")
	if s.User.WorkspaceID != "" {
		t.Fatalf("workspace %q without workspaces", s.User.WorkspaceID)
	}
	// Authenticate never rejects: the request goes on without identity, and
	// a route that needs a user answers 403.
	r := h.do("GET", "/whoami", nil, append(bearerH(s.AccessToken), "X-Workspace-ID", "ws-x")...)
	if r.status != http.StatusOK || !strings.Contains(string(r.body), `"authenticated":false`) {
		t.Fatalf("X-Workspace-ID without workspaces: %d %s", r.status, r.body)
	}
	r = h.do("GET", "/auth/me", nil, append(bearerH(s.AccessToken), "X-Workspace-ID", "ws-x")...)
	if r.status != http.StatusForbidden {
		t.Fatalf("X-Workspace-ID without workspaces on /auth/me: %d %s", r.status, r.body)
	}
	// An invite token cannot be honoured without workspaces.
	r = h.do("POST", "/auth/register", map[string]string{"email": "b@example.com", "password": "solo-password", "invite_token": "x"})
	if r.status != http.StatusForbidden || r.code(t) != "invalid_invite" {
		t.Fatalf("invite without workspaces: %d %s", r.status, r.body)
	}
}

func TestCreateUserAndRoles(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, dialect string) {
		h := newHarness(t, dialect)
		ctx := context.Background()
		u := h.createUser("seed@example.com", "seed-password", "")
		if u.Role != RoleUser || !u.IsActive || u.WorkspaceID == "" {
			t.Fatalf("seeded user %+v", u)
		}
		if _, err := h.auth.CreateUser(ctx, CreateUserInput{Email: "x@example.com", Password: "seed-password", Role: "root"}); !errors.Is(err, ErrInvalidRole) {
			t.Fatalf("role root: %v", err)
		}
		if _, err := h.auth.CreateUser(ctx, CreateUserInput{Email: "SEED@example.com", Password: "seed-password"}); !errors.Is(err, ErrEmailTaken) {
			t.Fatalf("duplicate seed: %v", err)
		}
		s := h.login("seed@example.com", "seed-password")
		if r := h.do("GET", "/admin-only", nil, bearerH(s.AccessToken)...); r.status != http.StatusForbidden || r.code(t) != "forbidden" {
			t.Fatalf("user on admin route: %d %s", r.status, r.body)
		}
		if r := h.do("GET", "/admin-only", nil); r.status != http.StatusUnauthorized || r.code(t) != "unauthorized" {
			t.Fatalf("anonymous on admin route: %d %s", r.status, r.body)
		}
		if _, err := h.auth.MakeAdmin(ctx, u.ID); err != nil {
			t.Fatal(err)
		}
		// The same token now passes: the role is read from the store, not the token.
		if r := h.do("GET", "/admin-only", nil, bearerH(s.AccessToken)...); r.status != http.StatusOK {
			t.Fatalf("promoted user on admin route: %d %s", r.status, r.body)
		}
		if _, err := h.auth.SetRole(ctx, u.ID, RoleUser); err != nil {
			t.Fatal(err)
		}
		if r := h.do("GET", "/admin-only", nil, bearerH(s.AccessToken)...); r.status != http.StatusForbidden {
			t.Fatalf("demoted user on admin route: %d %s", r.status, r.body)
		}
		if _, err := h.auth.SetActive(ctx, "no-such-user", false); !errors.Is(err, ErrUserNotFound) {
			t.Fatalf("SetActive unknown: %v", err)
		}
	})
}

// TestRegisterBadInviteStatements: with signup closed, a made-up invite
// for a taken email and for a free one fail with the same error after the
// same statements (the taken email used to fail sooner, at the user
// INSERT: a timing difference that told which emails have accounts).
func TestRegisterBadInviteStatements(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, dialect string) {
		h := newHarness(t, dialect)
		h.register("admin@example.com", "admin-password") // the first user
		ctx := context.Background()
		if _, err := h.auth.CreateUser(ctx, CreateUserInput{Email: "taken@example.com", Password: "taken-password"}); err != nil {
			t.Fatal(err)
		}
		statements := func(email string) int64 {
			before := h.store.Stats().Statements
			_, err := h.auth.Register(ctx, RegisterInput{Email: email, Password: "some-password-1", InviteToken: "made-up"})
			if !errors.Is(err, ErrInvalidInvite) {
				t.Fatalf("register %s with a made-up invite: %v", email, err)
			}
			return h.store.Stats().Statements - before
		}
		for i := range 3 { // the first round warms statement and schema caches
			taken, free := statements("taken@example.com"), statements(fmt.Sprintf("free%d@example.com", i))
			if i > 0 && taken != free {
				t.Fatalf("a taken email sends %d statements, a free one %d", taken, free)
			}
		}
	})
}

// TestRegisterMadeUpInviteHashesNothing: a made-up invite (or one issued
// to another email) is refused before the password is hashed, so it costs
// a read instead of an argon2id hash (19 MiB, tens of ms). The one hashing
// slot is held by the test: a registration that tried to hash would wait
// for it and fail busy.
func TestRegisterMadeUpInviteHashesNothing(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, dialect string) {
		h := newHarness(t, dialect, withConfig(func(c *Config) { c.MaxConcurrentHashes = 1 }))
		owner := h.register("owner@example.com", "owner-password")
		h.createUser("taken@example.com", "taken-password", RoleUser)
		h.invite(owner.User.WorkspaceID, "guest@example.com", "invite-1")

		h.auth.hasher.slots <- struct{}{} // every hashing slot taken
		register := func(email, token string) error {
			ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
			defer cancel()
			_, err := h.auth.Register(ctx, RegisterInput{Email: email, Password: "guest-password", InviteToken: token})
			return err
		}
		for name, tc := range map[string]struct{ email, token string }{
			"made up, free email":  {"free@example.com", "made-up"},
			"made up, taken email": {"taken@example.com", "made-up"},
			"issued to another":    {"free@example.com", "invite-1"},
		} {
			if err := register(tc.email, tc.token); !errors.Is(err, ErrInvalidInvite) {
				t.Errorf("%s: %v, want ErrInvalidInvite without waiting for a hashing slot", name, err)
			}
		}
		// The valid invite passes the check and then needs the slot.
		if err := register("guest@example.com", "invite-1"); !errors.Is(err, ErrBusy) {
			t.Fatalf("valid invite with every hashing slot taken: %v, want ErrBusy", err)
		}
		h.auth.hasher.release()
		if err := register("guest@example.com", "invite-1"); err != nil {
			t.Fatalf("valid invite: %v", err)
		}
	})
}
