package auth

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"appkernel/db/dbtest"
)

func TestLoginReturnsSession(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, dialect string) {
		h := newHarness(t, dialect)
		reg := h.register("a@example.com", "a-password-1")
		s := h.login("a@example.com", "a-password-1")
		if s.User != reg.User || s.TokenType != "bearer" || s.ExpiresIn != 86400 {
			t.Fatalf("login session %+v, registered %+v", s, reg.User)
		}
		if s.RefreshToken == reg.RefreshToken || s.AccessToken == reg.AccessToken {
			t.Fatal("login reused the registration's tokens")
		}
	})
}

// TestLoginEnumeration: an unknown email and a wrong password answer the
// same status, headers and body, byte for byte.
func TestLoginEnumeration(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, dialect string) {
		h := newHarness(t, dialect)
		h.register("known@example.com", "known-password")
		try := func(email string) resp {
			return h.do("POST", "/auth/login", map[string]string{"email": email, "password": "wrong-password"}, "X-Request-ID", "same-request-id")
		}
		wrong, unknown := try("known@example.com"), try("unknown@example.com")
		if wrong.status != http.StatusUnauthorized || wrong.code(t) != "invalid_credentials" {
			t.Fatalf("wrong password: %d %s", wrong.status, wrong.body)
		}
		if unknown.status != wrong.status || !bytes.Equal(unknown.body, wrong.body) {
			t.Fatalf("responses differ:\nwrong password: %d %s\nunknown email:  %d %s", wrong.status, wrong.body, unknown.status, unknown.body)
		}
		for _, hdr := range []string{"Content-Type", "Www-Authenticate", "Content-Length", "Cache-Control"} {
			if wrong.header.Get(hdr) != unknown.header.Get(hdr) {
				t.Fatalf("header %s differs: %q vs %q", hdr, wrong.header.Get(hdr), unknown.header.Get(hdr))
			}
		}
	})
}

// TestLoginEnumerationTiming runs the production argon2 parameters: an
// unknown email must cost a full hash verification, like a wrong password.
func TestLoginEnumerationTiming(t *testing.T) {
	t.Parallel()
	h := newHarness(t, "sqlite", withConfig(func(c *Config) { c.Argon2 = Argon2Params{}; c.Insecure = false }))
	h.register("known@example.com", "known-password")
	// Interleaved samples, compared by their minimum: the least noisy
	// estimate on a loaded machine. The reference is one bare hash
	// verification at the same parameters; without the dummy verification
	// an unknown email costs a lookup (~1 ms) against tens of ms.
	var wrong, unknown, verify []time.Duration
	for i := range 7 {
		for _, email := range []string{"known@example.com", "unknown@example.com"} {
			start := time.Now()
			r := h.do("POST", "/auth/login", map[string]string{"email": email, "password": "wrong-password"}, "X-Test-IP", fmt.Sprintf("10.0.0.%d", i))
			d := time.Since(start)
			if r.status != http.StatusUnauthorized {
				t.Fatalf("status %d", r.status)
			}
			if email == "known@example.com" {
				wrong = append(wrong, d)
			} else {
				unknown = append(unknown, d)
			}
		}
		start := time.Now()
		if err := h.auth.hasher.verifyDummy(context.Background(), "wrong-password"); err != nil {
			t.Fatal(err)
		}
		verify = append(verify, time.Since(start))
	}
	w, u, v := slices.Min(wrong), slices.Min(unknown), slices.Min(verify)
	t.Logf("fastest wrong password %s, fastest unknown email %s, fastest bare verification %s", w, u, v)
	if u < v/3 || w < v/3 {
		t.Fatalf("unknown email took %s, wrong password %s, a verification %s: one of them skips the hash, so timing reveals which emails exist", u, w, v)
	}
}

// TestLoginEnumerationStatements: before the argon2 check, a known email
// with a wrong password and an unknown email send the same statements (a
// known email used to cost one more lookup, its password row: a timing
// difference of one round trip).
func TestLoginEnumerationStatements(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, dialect string) {
		h := newHarness(t, dialect)
		h.register("known@example.com", "known-password")
		ctx := context.Background()
		statements := func(email string) int64 {
			before := h.store.Stats().Statements
			if _, err := h.auth.Login(ctx, LoginInput{Email: email, Password: "wrong-password", ClientIP: "10.0.0.1"}); err != ErrInvalidCredentials {
				t.Fatalf("login %s: %v", email, err)
			}
			return h.store.Stats().Statements - before
		}
		for i := range 3 { // the first round warms statement and schema caches
			known, unknown := statements("known@example.com"), statements("unknown@example.com")
			if i > 0 && known != unknown {
				t.Fatalf("a wrong password sends %d statements, an unknown email %d", known, unknown)
			}
		}
	})
}

func TestLoginThrottling(t *testing.T) {
	run := func(t *testing.T, h *harness) {
		h.register("victim@example.com", "victim-password")
		login := func(email, pw, ip string) resp {
			return h.do("POST", "/auth/login", map[string]string{"email": email, "password": pw}, "X-Test-IP", ip)
		}
		for i := range 10 {
			if r := login("victim@example.com", "guess-"+strconv.Itoa(i), "10.0.0.1"); r.status != http.StatusUnauthorized {
				t.Fatalf("failure %d: %d %s", i+1, r.status, r.body)
			}
		}
		// The 11th attempt from that IP is refused even with the right password.
		r := login("victim@example.com", "victim-password", "10.0.0.1")
		if r.status != http.StatusTooManyRequests || r.code(t) != "too_many_attempts" {
			t.Fatalf("11th attempt: %d %s", r.status, r.body)
		}
		ra, err := strconv.Atoi(r.header.Get("Retry-After"))
		if err != nil || ra < 1 || ra > 15*60 {
			t.Fatalf("Retry-After %q", r.header.Get("Retry-After"))
		}
		// The owner logs in from elsewhere; unknown emails are throttled alike.
		h.login("victim@example.com", "victim-password")
		for i := range 10 {
			if r := login("ghost@example.com", "guess", "10.0.0.1"); r.status != http.StatusUnauthorized {
				t.Fatalf("unknown email failure %d: %d", i+1, r.status)
			}
		}
		if r := login("ghost@example.com", "guess", "10.0.0.1"); r.status != http.StatusTooManyRequests {
			t.Fatalf("unknown email 11th attempt: %d", r.status)
		}
		// An attacker holding an IPv6 /64 gets one budget for it, not one
		// per address; the next /64 is someone else.
		h.register("v6@example.com", "v6-password-123")
		for i := range 10 {
			if r := login("v6@example.com", "guess", fmt.Sprintf("2001:db8:1:2::%x", i+1)); r.status != http.StatusUnauthorized {
				t.Fatalf("IPv6 failure %d: %d %s", i+1, r.status, r.body)
			}
		}
		if r := login("v6@example.com", "guess", "2001:db8:1:2:ffff:ffff:ffff:ffff"); r.status != http.StatusTooManyRequests {
			t.Fatalf("11th attempt from a new address of the same /64: %d %s", r.status, r.body)
		}
		if r := login("v6@example.com", "guess", "2001:db8:1:3::1"); r.status != http.StatusUnauthorized {
			t.Fatalf("attempt from the next /64: %d %s", r.status, r.body)
		}
		// 100 failures an hour per account, whatever the IPs.
		h.register("spread@example.com", "spread-password")
		for i := range 100 {
			if r := login("spread@example.com", "guess", fmt.Sprintf("10.2.%d.%d", i/10, i%10)); r.status != http.StatusUnauthorized {
				t.Fatalf("spread failure %d: %d %s", i+1, r.status, r.body)
			}
		}
		r = login("spread@example.com", "spread-password", "10.3.0.1")
		if r.status != http.StatusTooManyRequests {
			t.Fatalf("101st attempt in the hour from a fresh IP: %d %s", r.status, r.body)
		}
		if ra, _ := strconv.Atoi(r.header.Get("Retry-After")); ra < 15*60 {
			t.Fatalf("account Retry-After %d s, want close to an hour", ra)
		}
	}
	forEachThrottle(t, run)
}

func TestLoginDeactivatedUser(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, dialect string) {
		h := newHarness(t, dialect, withSignup)
		h.register("admin@example.com", "admin-password")
		s := h.register("user@example.com", "user-password")
		if _, err := h.auth.SetActive(context.Background(), s.User.ID, false); err != nil {
			t.Fatal(err)
		}
		r := h.do("POST", "/auth/login", map[string]string{"email": "user@example.com", "password": "user-password"})
		if r.status != http.StatusForbidden || r.code(t) != "account_disabled" {
			t.Fatalf("login of a deactivated user: %d %s", r.status, r.body)
		}
		// A wrong password does not reveal that the account is disabled.
		r = h.do("POST", "/auth/login", map[string]string{"email": "user@example.com", "password": "wrong-password"})
		if r.status != http.StatusUnauthorized {
			t.Fatalf("wrong password of a deactivated user: %d %s", r.status, r.body)
		}
		// Its tokens stop at once in this process.
		if r := h.do("GET", "/auth/me", nil, bearerH(s.AccessToken)...); r.status != http.StatusUnauthorized || r.code(t) != "invalid_token" {
			t.Fatalf("access token of a deactivated user: %d %s", r.status, r.body)
		}
		if r := h.refresh(s.RefreshToken); r.status != http.StatusUnauthorized {
			t.Fatalf("refresh of a deactivated user: %d %s", r.status, r.body)
		}
		if _, err := h.auth.SetActive(context.Background(), s.User.ID, true); err != nil {
			t.Fatal(err)
		}
		// Reactivation does not revive the tokens of before: the user
		// logs in again.
		if r := h.do("GET", "/auth/me", nil, bearerH(s.AccessToken)...); r.status != http.StatusUnauthorized {
			t.Fatalf("old access token after reactivation: %d %s", r.status, r.body)
		}
		if r := h.refresh(s.RefreshToken); r.status != http.StatusUnauthorized {
			t.Fatalf("old refresh token after reactivation: %d %s", r.status, r.body)
		}
		n := h.login("user@example.com", "user-password")
		if r := h.do("GET", "/auth/me", nil, bearerH(n.AccessToken)...); r.status != http.StatusOK {
			t.Fatalf("new access token after reactivation: %d %s", r.status, r.body)
		}
	})
}

// TestDeactivationReachesOtherProcesses: another process (a second
// Service on the same store) stops a deactivated user's token within its
// identity cache TTL.
func TestDeactivationReachesOtherProcesses(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, dialect string) {
		h := newHarness(t, dialect, withSignup)
		other := newHarnessOn(t, h.store, withSignup, withCacheTTL(300*time.Millisecond))
		h.register("admin@example.com", "admin-password")
		s := h.register("user@example.com", "user-password")
		if r := other.do("GET", "/auth/me", nil, bearerH(s.AccessToken)...); r.status != http.StatusOK {
			t.Fatalf("before: %d %s", r.status, r.body)
		}
		if _, err := h.auth.SetActive(context.Background(), s.User.ID, false); err != nil {
			t.Fatal(err)
		}
		deadline := time.Now().Add(2 * time.Second)
		for {
			r := other.do("GET", "/auth/me", nil, bearerH(s.AccessToken)...)
			if r.status == http.StatusUnauthorized {
				break
			}
			if time.Now().After(deadline) {
				t.Fatal("the other process still accepts the token 2 s after deactivation (cache TTL 300 ms)")
			}
			time.Sleep(50 * time.Millisecond)
		}
	})
}

func TestLoginUpgradesOutdatedHash(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, dialect string) {
		ctx := context.Background()
		weak := newHarness(t, dialect, withConfig(func(c *Config) { c.Argon2 = Argon2Params{Memory: 32, Time: 1, Threads: 1} }))
		u := weak.createUser("old@example.com", "old-password", RoleUser)
		hashOf := func() string {
			e, err := weak.auth.passwordRow(ctx, u.ID)
			if err != nil {
				t.Fatal(err)
			}
			return e["hash"].(string)
		}
		before := hashOf()
		if !strings.Contains(before, "$m=32,t=1,p=1$") {
			t.Fatalf("hash %q", before)
		}
		// The service restarts with stronger parameters.
		strong := newHarnessOn(t, weak.store, withConfig(func(c *Config) { c.Argon2 = Argon2Params{Memory: 128, Time: 2, Threads: 1} }))
		r := strong.do("POST", "/auth/login", map[string]string{"email": "old@example.com", "password": "wrong-password"})
		if r.status != http.StatusUnauthorized || hashOf() != before {
			t.Fatalf("a failed login changed the hash (status %d)", r.status)
		}
		strong.login("old@example.com", "old-password")
		after := hashOf()
		if !strings.Contains(after, "$m=128,t=2,p=1$") {
			t.Fatalf("hash after login %q, want the new parameters", after)
		}
		strong.login("old@example.com", "old-password")
		if hashOf() != after {
			t.Fatal("an up-to-date hash was rehashed")
		}
	})
}

// Text a database cannot hold (NUL in an email, a stray byte in
// X-Workspace-ID) is an ordinary refusal on every database, never a 500.
func TestInputThatIsNotTextIsRefusedPlainly(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, dialect string) {
		h := newHarness(t, dialect, withSignup)
		s := h.register("admin@example.com", "admin-password")
		r := h.do("POST", "/auth/login", map[string]string{"email": "a\x00@example.com", "password": "whatever-password"})
		if r.status != http.StatusUnauthorized || r.code(t) != "invalid_credentials" {
			t.Fatalf("login with NUL in the email: %d %s", r.status, r.body)
		}
		for _, ws := range []string{"\xff", "caf\xc3"} {
			r = h.do("GET", "/auth/me", nil, append(bearerH(s.AccessToken), "X-Workspace-ID", ws)...)
			if r.status != http.StatusForbidden {
				t.Fatalf("X-Workspace-ID %q: %d %s", ws, r.status, r.body)
			}
		}
	})
}
