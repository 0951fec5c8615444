package appkernel_test

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"appkernel"
	"appkernel/kerneltest"
)

// TestProductionFirstAdminIsTheOperators: with APP_ENV=production the
// first admin comes from ADMIN_EMAIL and ADMIN_PASSWORD at start-up, and
// whoever reaches /auth/register first on the fresh deployment is refused
// (self-signup off) or an ordinary user (self-signup on), never an admin.
// A restart with another ADMIN_PASSWORD does not overwrite the password.
func TestProductionFirstAdminIsTheOperators(t *testing.T) {
	dbURL := "sqlite:///" + filepath.ToSlash(filepath.Join(t.TempDir(), "app.db"))
	start := func(password string, signup bool) *kerneltest.Kernel {
		return kerneltest.New(t, &kerneltest.Options{Config: func(c *appkernel.Config) {
			c.Env = "production"
			c.DatabaseURL = dbURL
			c.AllowSelfSignup = signup
			c.AdminEmail, c.AdminPassword = "Ops@Example.com", password
		}})
	}
	login := func(tk *kerneltest.Kernel, password string) *kerneltest.Response {
		return tk.Client().Post(t, "/auth/login", map[string]string{"email": "ops@example.com", "password": password})
	}

	tk := start("first-admin-password", false)
	if n := strings.Count(tk.Logs.String(), "admin bootstrap: admin account created"); n != 1 {
		t.Fatalf("%d lines say the admin was created; logs:\n%s", n, tk.Logs.String())
	}
	if strings.Contains(tk.Logs.String(), "first-admin-password") {
		t.Fatal("the admin password is in the logs")
	}
	var s struct {
		User struct{ Role string } `json:"user"`
	}
	login(tk, "first-admin-password").Expect(t, 200).JSON(t, &s)
	if s.User.Role != "admin" {
		t.Fatalf("the operator's account has role %q", s.User.Role)
	}
	// The anonymous first registrant of the deployment (the admin made by
	// the operator aside) is refused with self-signup off...
	r := tk.Client().Post(t, "/auth/register", map[string]string{"email": "early@example.com", "password": "early-password-1"})
	if r.Status != 403 || !strings.Contains(string(r.Body), "signup_disabled") {
		t.Fatalf("anonymous registration in production: %d %s", r.Status, r.Body)
	}

	// ...and an ordinary user with it on, even on an empty database.
	empty := kerneltest.New(t, &kerneltest.Options{Config: func(c *appkernel.Config) {
		c.Env = "production"
		c.AllowSelfSignup = true
	}})
	empty.Client().Post(t, "/auth/register", map[string]string{"email": "first@example.com", "password": "first-password-1"}).Expect(t, 201).JSON(t, &s)
	if s.User.Role != "user" {
		t.Fatalf("first registrant in production has role %q, want user", s.User.Role)
	}
	closedEmpty := kerneltest.New(t, &kerneltest.Options{Config: func(c *appkernel.Config) { c.Env = "production" }})
	r = closedEmpty.Client().Post(t, "/auth/register", map[string]string{"email": "first@example.com", "password": "first-password-1"})
	if r.Status != 403 {
		t.Fatalf("first registrant in production with signup off: %d %s", r.Status, r.Body)
	}

	// A restart with another password leaves the account as it is.
	tk.Server.Close()
	if err := tk.Close(); err != nil {
		t.Fatal(err)
	}
	again := start("another-password-2", false)
	if !strings.Contains(again.Logs.String(), "admin bootstrap: the admin account exists, left unchanged") {
		t.Fatalf("restart logs:\n%s", again.Logs.String())
	}
	login(again, "first-admin-password").Expect(t, 200)
	login(again, "another-password-2").Expect(t, 401)
}

// TestDevelopmentFirstRegistrantIsAdmin: outside production the first
// account registered still becomes admin (the development rule).
func TestDevelopmentFirstRegistrantIsAdmin(t *testing.T) {
	tk := kerneltest.New(t, nil)
	var s struct {
		User struct{ Role string } `json:"user"`
	}
	tk.Client().Post(t, "/auth/register", map[string]string{"email": "dev@example.com", "password": "dev-password-1"}).Expect(t, 201).JSON(t, &s)
	if s.User.Role != "admin" {
		t.Fatalf("first registrant in development has role %q, want admin", s.User.Role)
	}
}

// TestAdminBootstrapConfig: ADMIN_EMAIL and ADMIN_PASSWORD come together,
// a weak ADMIN_PASSWORD refuses the start, and so does ADMIN_EMAIL with
// auth off.
func TestAdminBootstrapConfig(t *testing.T) {
	cfg := appkernel.DefaultConfig()
	cfg.DisableDatabase = true
	cfg.AdminEmail = "ops@example.com"
	if _, err := appkernel.New(context.Background(), cfg); !errors.Is(err, appkernel.ErrConfig) || !strings.Contains(err.Error(), "ADMIN_PASSWORD") {
		t.Fatalf("ADMIN_EMAIL without ADMIN_PASSWORD: %v", err)
	}
	cfg.AdminPassword = "a-strong-password-3"
	if _, err := appkernel.New(context.Background(), cfg); !errors.Is(err, appkernel.ErrConfig) || !strings.Contains(err.Error(), "auth is off") {
		t.Fatalf("ADMIN_EMAIL without a database: %v", err)
	}
	cfg.DisableDatabase = false
	cfg.DatabaseURL = "sqlite:///" + filepath.ToSlash(filepath.Join(t.TempDir(), "app.db"))
	cfg.DisableDevAutostart = true
	cfg.AdminPassword = "short"
	k, err := appkernel.New(context.Background(), cfg)
	if err == nil {
		k.Close()
		t.Fatal("a weak ADMIN_PASSWORD started the kernel")
	}
	if !strings.Contains(err.Error(), "ADMIN_PASSWORD") {
		t.Fatalf("weak ADMIN_PASSWORD: %v", err)
	}
}
