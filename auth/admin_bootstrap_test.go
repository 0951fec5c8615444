package auth

import (
	"context"
	"net/http"
	"strings"
	"sync"
	"testing"

	"appkernel/db/dbtest"
)

// TestEnsureAdmin: the operator's admin is created once, also when
// several instances start at once; a later call never changes its
// password; an account someone registered under the email first is not
// promoted.
func TestEnsureAdmin(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, dialect string) {
		h := newHarness(t, dialect, withConfig(func(c *Config) { c.NoFirstUserAdmin = true }))
		ctx := context.Background()
		const n = 4
		created := make([]bool, n)
		errs := make([]error, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() { _, created[i], errs[i] = h.auth.EnsureAdmin(ctx, "Ops@Example.com", "ops-password-1") })
		}
		wg.Wait()
		made := 0
		for i := range n {
			if errs[i] != nil {
				t.Fatalf("EnsureAdmin %d: %v", i, errs[i])
			}
			if created[i] {
				made++
			}
		}
		if made != 1 {
			t.Fatalf("%d concurrent EnsureAdmin calls created the account", made)
		}
		if s := h.login("ops@example.com", "ops-password-1"); s.User.Role != RoleAdmin {
			t.Fatalf("role %q", s.User.Role)
		}
		if _, created, err := h.auth.EnsureAdmin(ctx, "ops@example.com", "other-password-2"); err != nil || created {
			t.Fatalf("second EnsureAdmin: created %v, %v", created, err)
		}
		h.login("ops@example.com", "ops-password-1")
		if r := h.do("POST", "/auth/login", map[string]string{"email": "ops@example.com", "password": "other-password-2"}); r.status != http.StatusUnauthorized {
			t.Fatalf("the second password logs in: %d", r.status)
		}

		// Someone registered the admin email first: not promoted.
		h.createUser("squatter@example.com", "squatter-password", RoleUser)
		u, again, err := h.auth.EnsureAdmin(ctx, "squatter@example.com", "ops-password-1")
		if err != nil || again || u.Role != RoleUser {
			t.Fatalf("EnsureAdmin on another's account: %+v created %v, %v", u, again, err)
		}
		if !strings.Contains(h.logs.String(), "is not an admin; left unchanged") {
			t.Fatalf("no warning; logs:\n%s", h.logs.String())
		}
	})
}

// TestNoFirstUserAdmin: with NoFirstUserAdmin (production) the first
// registration of an empty database gets no admin role: refused with
// self-signup off, an ordinary user with it on.
func TestNoFirstUserAdmin(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, dialect string) {
		closed := newHarness(t, dialect, withConfig(func(c *Config) { c.NoFirstUserAdmin = true }))
		r := closed.do("POST", "/auth/register", map[string]string{"email": "first@example.com", "password": "first-password-1"})
		if r.status != http.StatusForbidden || r.code(t) != "signup_disabled" {
			t.Fatalf("first registration, signup off: %d %s", r.status, r.body)
		}
		open := newHarness(t, dialect, withSignup, withConfig(func(c *Config) { c.NoFirstUserAdmin = true }))
		if s := open.register("first@example.com", "first-password-1"); s.User.Role != RoleUser {
			t.Fatalf("first registration, signup on: role %q", s.User.Role)
		}
	})
}
