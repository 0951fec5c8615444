package appkernel_test

import (
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"appkernel"
	"appkernel/auth"
	"appkernel/db/dbtest"
	"appkernel/internal/testenv"
	"appkernel/kerneltest"
)

// The identity rules through the whole kernel (stack, auth, workspaces) on
// every database; auth/ and workspaces/ test each rule in depth.

func eachDatabase(t *testing.T, fn func(t *testing.T, url string)) {
	t.Run("sqlite", func(t *testing.T) { fn(t, dbtest.FreshSQLite(t)) })
	t.Run("postgres", func(t *testing.T) { fn(t, dbtest.FreshPostgres(t, testenv.PostgresURL(t))) })
	t.Run("mysql", func(t *testing.T) { fn(t, dbtest.FreshMySQL(t, testenv.MySQLURL(t))) })
}

func kernelOn(t *testing.T, url string) *kerneltest.Kernel {
	return kerneltest.New(t, &kerneltest.Options{Config: func(c *appkernel.Config) { c.DatabaseURL = url }})
}

type tokens struct {
	User struct {
		ID          string `json:"id"`
		Role        string `json:"role"`
		WorkspaceID string `json:"workspace_id"`
	} `json:"user"`
	AccessToken  string `json:"access_token"`
	RefreshToken string `json:"refresh_token"`
	TokenType    string `json:"token_type"`
}

func TestIdentityThroughTheKernel(t *testing.T) {
	eachDatabase(t, func(t *testing.T, url string) {
		tk := kernelOn(t, url)
		anon := tk.Client()

		// Concurrent first registrations: exactly one admin, the rest refused.
		const n = 6
		var wg sync.WaitGroup
		statuses := make([]int, n)
		bodies := make([]tokens, n)
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				res := anon.Post(t, "/auth/register", map[string]any{"email": fmt.Sprintf("u%d@example.com", i), "password": "a long enough passphrase"})
				statuses[i] = res.Status
				if res.Status == http.StatusCreated {
					res.JSON(t, &bodies[i])
				}
			}()
		}
		wg.Wait()
		var admin *tokens
		for i, s := range statuses {
			switch s {
			case http.StatusCreated:
				if admin != nil {
					t.Fatalf("two registrations succeeded with signup closed: %v", statuses)
				}
				admin = &bodies[i]
			case http.StatusForbidden:
			default:
				t.Fatalf("registration answered %d: %v", s, statuses)
			}
		}
		if admin == nil || admin.User.Role != "admin" || admin.TokenType != "bearer" || admin.User.WorkspaceID == "" {
			t.Fatalf("first user: %+v (statuses %v)", admin, statuses)
		}
		ada := tk.Client()
		ada.Token = admin.AccessToken

		// Invite, register with it, join the team.
		var team struct{ ID string }
		ada.Post(t, "/workspaces", map[string]any{"name": "Team"}).Expect(t, 201).JSON(t, &team)
		var inv struct{ Token string }
		ada.Post(t, "/workspaces/"+team.ID+"/invite", map[string]any{"email": "grace@example.com", "role": "member"}).Expect(t, 201).JSON(t, &inv)
		var grace tokens
		anon.Post(t, "/auth/register", map[string]any{"email": "Grace@Example.com ", "password": "another long passphrase", "invite_token": inv.Token}).
			Expect(t, 201).JSON(t, &grace)
		g := tk.Client()
		g.Token = grace.AccessToken
		var members []map[string]any
		g.Get(t, "/workspaces/"+team.ID+"/members").Expect(t, 200).JSON(t, &members)
		if len(members) != 2 {
			t.Fatalf("members %v", members)
		}
		// Grace cannot see Ada's personal workspace, nor switch to it.
		g.Get(t, "/workspaces/"+admin.User.WorkspaceID+"/members").Expect(t, 404)
		g.Header = http.Header{"X-Workspace-Id": {admin.User.WorkspaceID}}
		if res := g.Get(t, "/auth/me"); res.Status != 403 && res.Status != 404 {
			t.Fatalf("switching to a foreign workspace: %d %s", res.Status, res.Body)
		}
		g.Header = http.Header{"X-Workspace-Id": {team.ID}}
		var me struct {
			WorkspaceID string `json:"workspace_id"`
		}
		g.Get(t, "/auth/me").Expect(t, 200).JSON(t, &me)
		if me.WorkspaceID != team.ID {
			t.Fatalf("X-Workspace-ID did not switch: %+v", me)
		}
		g.Header = nil

		// Refresh rotates; a spent token past the grace window is refused
		// (the grace window itself is tested in auth/).
		var next tokens
		anon.Post(t, "/auth/refresh", map[string]any{"refresh_token": grace.RefreshToken}).Expect(t, 200).JSON(t, &next)
		if next.RefreshToken == grace.RefreshToken || next.AccessToken == "" {
			t.Fatal("refresh did not rotate")
		}
		// Logout ends the session: its refresh token is refused.
		anon.Post(t, "/auth/logout", map[string]any{"refresh_token": next.RefreshToken}).Expect(t, 204)
		if code := anon.Post(t, "/auth/refresh", map[string]any{"refresh_token": next.RefreshToken}).Expect(t, 401).ErrorCode(t); code == "" {
			t.Fatal("no code")
		}

		// Login: unknown email and wrong password look the same.
		a := anon.Post(t, "/auth/login", map[string]any{"email": "nobody@example.com", "password": "whatever-password"})
		b := anon.Post(t, "/auth/login", map[string]any{"email": "grace@example.com", "password": "wrong-password!!"})
		if a.Status != 401 || b.Status != 401 || a.ErrorCode(t) != b.ErrorCode(t) {
			t.Fatalf("enumeration: %d %s / %d %s", a.Status, a.Body, b.Status, b.Body)
		}
		// A forged token is refused in the error shape.
		forged := tk.Client()
		forged.Token = tamperSignature(admin.AccessToken)
		if code := forged.Get(t, "/auth/me").Expect(t, 401).ErrorCode(t); code != "invalid_token" {
			t.Fatalf("forged token: %s", code)
		}
	})
}

// Login throttling keys on the client IP the RealIP middleware resolved:
// X-Forwarded-For from an untrusted peer cannot buy fresh attempts, and a
// trusted proxy's clients are told apart.
func TestLoginThrottleUsesTheRealClientIP(t *testing.T) {
	fail := func(c *kerneltest.Client, xff string) int {
		c.Header = http.Header{"X-Forwarded-For": {xff}}
		return c.Post(t, "/auth/login", map[string]any{"email": "victim@example.com", "password": "not-the-password"}).Status
	}
	t.Run("untrusted peer", func(t *testing.T) {
		tk := kerneltest.New(t, nil)
		tk.User(t, "victim@example.com")
		c := tk.Client()
		for i := range 10 {
			if s := fail(c, fmt.Sprintf("198.51.100.%d", i)); s != 401 {
				t.Fatalf("attempt %d: %d", i+1, s)
			}
		}
		if s := fail(c, "198.51.100.99"); s != 429 {
			t.Fatalf("11th failure behind a spoofed X-Forwarded-For: %d, want 429", s)
		}
	})
	t.Run("trusted proxy", func(t *testing.T) {
		tk := kerneltest.New(t, &kerneltest.Options{Config: func(c *appkernel.Config) { c.TrustedProxies = []string{"127.0.0.1/32", "::1/128"} }})
		tk.User(t, "victim@example.com")
		c := tk.Client()
		for i := range 10 {
			if s := fail(c, "203.0.113.7"); s != 401 {
				t.Fatalf("attempt %d: %d", i+1, s)
			}
		}
		if s := fail(c, "203.0.113.7"); s != 429 {
			t.Fatalf("11th failure of one client: %d, want 429", s)
		}
		if s := fail(c, "203.0.113.8"); s != 401 {
			t.Fatalf("another client behind the proxy: %d, want 401", s)
		}
	})
}

// A client still sending a stale or broken access token can refresh, log in
// and log out: Authenticate never rejects, only RequireUser does.
func TestStaleBearerDoesNotBlockAuthRoutes(t *testing.T) {
	tk := kerneltest.New(t, nil)
	u := tk.User(t, "stale@example.com")
	c := tk.Client()
	c.Token = "expired.or.garbage"
	var next tokens
	c.Post(t, "/auth/refresh", map[string]any{"refresh_token": u.RefreshToken}).Expect(t, 200).JSON(t, &next)
	c.Post(t, "/auth/login", map[string]any{"email": "stale@example.com", "password": kerneltest.Password}).Expect(t, 200)
	c.Post(t, "/auth/logout", map[string]any{"refresh_token": next.RefreshToken}).Expect(t, 204)
	if code := c.Get(t, "/auth/me").Expect(t, 401).ErrorCode(t); code != "invalid_token" {
		t.Fatalf("/auth/me with a broken token: %s", code)
	}
	if code := c.Get(t, "/workspaces").Expect(t, 401).ErrorCode(t); code != "invalid_token" {
		t.Fatalf("/workspaces with a broken token: %s", code)
	}
}

// With signup closed, /auth/register with a made-up invite token answers
// the same for a taken and a free email: no account enumeration.
func TestRegisterWithBogusInviteDoesNotRevealAccounts(t *testing.T) {
	tk := kerneltest.New(t, nil)
	tk.User(t, "alice@example.com")
	c := tk.Client()
	c.Header = http.Header{"X-Request-Id": {"fixed-request-id"}}
	taken := c.Post(t, "/auth/register", map[string]any{"email": "alice@example.com", "password": "a-long-password-1", "invite_token": "x"})
	free := c.Post(t, "/auth/register", map[string]any{"email": "nobody@example.com", "password": "a-long-password-1", "invite_token": "x"})
	if taken.Status != 403 || taken.Status != free.Status || string(taken.Body) != string(free.Body) {
		t.Fatalf("taken: %d %s\nfree:  %d %s", taken.Status, taken.Body, free.Status, free.Body)
	}
}

// X-Workspace-ID follows membership changes: a refusal is not remembered,
// and a removed member loses access within auth.MembershipCacheTTL.
func TestWorkspaceSwitchFollowsMembership(t *testing.T) {
	tk := kerneltest.New(t, nil)
	owner, bob := tk.User(t, "owner@example.com"), tk.User(t, "bob@example.com")
	var team struct{ ID string }
	owner.Post(t, "/workspaces", map[string]any{"name": "Team"}).Expect(t, 201).JSON(t, &team)
	bob.Header = http.Header{"X-Workspace-Id": {team.ID}}
	bob.Get(t, "/auth/me").Expect(t, 403)

	var inv struct{ Token string }
	owner.Post(t, "/workspaces/"+team.ID+"/invite", map[string]any{"email": "bob@example.com", "role": "member"}).Expect(t, 201).JSON(t, &inv)
	bob.Header = nil
	bob.Post(t, "/workspaces/join/"+inv.Token, nil).Expect(t, 200)
	if strings.Contains(tk.Logs.String(), inv.Token) {
		t.Fatal("the invite token in the join path reached the logs")
	}
	bob.Header = http.Header{"X-Workspace-Id": {team.ID}}
	bob.Get(t, "/auth/me").Expect(t, 200) // at once: the refusal was not cached

	owner.Delete(t, "/workspaces/"+team.ID+"/members/"+bob.UserID).Expect(t, 204)
	deadline := time.Now().Add(auth.MembershipCacheTTL + 2*time.Second)
	for bob.Get(t, "/auth/me").Status != 403 {
		if time.Now().After(deadline) {
			t.Fatalf("a removed member still switches into the workspace after %s", auth.MembershipCacheTTL)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// tamperSignature replaces one character in the middle of a JWT's
// signature with a different one.
func tamperSignature(tok string) string {
	i := strings.LastIndexByte(tok, '.') + 1
	i += (len(tok) - i) / 2
	c := byte('A')
	if tok[i] == c {
		c = 'B'
	}
	return tok[:i] + string(c) + tok[i+1:]
}
