package auth

import (
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestKnownDeviceSurvivesAccountLockout is the attack of issue 10.1:
// anyone who knows an email spends the account-wide budget (100 wrong
// passwords from ten addresses). The owner's unknown devices are then
// refused, but a client that signed in before (its device token, as the
// cookie or in the body) still signs in, on a budget of its own.
func TestKnownDeviceSurvivesAccountLockout(t *testing.T) {
	run := func(t *testing.T, h *harness) {
		const email, password = "owner@example.com", "owner-password"
		laptop := h.register(email, password).DeviceToken // registering makes a known device
		phone := h.login(email, password).DeviceToken
		otherUsers := h.register("other@example.com", "other-password").DeviceToken
		if laptop == "" || phone == "" || laptop == phone {
			t.Fatalf("device tokens %q, %q: want two distinct tokens", laptop, phone)
		}
		login := func(pw, ip string, headers ...string) resp {
			return h.do("POST", "/auth/login", map[string]string{"email": email, "password": pw}, append([]string{"X-Test-IP", ip}, headers...)...)
		}
		cookie := func(token string) []string { return []string{"Cookie", DeviceCookie + "=" + token} }

		// The attack: 100 wrong passwords from ten addresses, no device.
		for i := range 100 {
			if r := login("guess-"+strconv.Itoa(i), "10.0."+strconv.Itoa(i/10)+".1"); r.status != http.StatusUnauthorized {
				t.Fatalf("guess %d: %d %s", i+1, r.status, r.body)
			}
		}
		// The owner from an eleventh address on a new device: refused.
		r := login(password, "10.0.99.1")
		if r.status != http.StatusTooManyRequests || r.code(t) != "too_many_attempts" {
			t.Fatalf("unknown device after the attack: %d %s, want 429", r.status, r.body)
		}
		if ra, _ := strconv.Atoi(r.header.Get("Retry-After")); ra < 3500 {
			t.Fatalf("unknown device Retry-After %q, want close to an hour", r.header.Get("Retry-After"))
		}
		// The owner's known device signs in (cookie), also from an address
		// whose account+IP budget the attacker spent.
		for _, ip := range []string{"10.0.99.1", "10.0.3.1"} {
			r := login(password, ip, cookie(laptop)...)
			if r.status != http.StatusOK {
				t.Fatalf("known device (cookie) from %s after the attack: %d %s, want 200", ip, r.status, r.body)
			}
			if got := h.decodeSession(r, http.StatusOK).DeviceToken; got == "" || got == laptop {
				t.Fatalf("a sign-in answers a fresh device token, got %q", got)
			}
		}
		// ... and a client that sends it in the body (no cookie jar).
		r = h.do("POST", "/auth/login", map[string]string{"email": email, "password": password, "device_token": phone}, "X-Test-IP", "10.0.99.2")
		if r.status != http.StatusOK {
			t.Fatalf("known device (body) after the attack: %d %s, want 200", r.status, r.body)
		}
		// Someone else's device token, a tampered one and junk are no device.
		tampered := []byte(laptop)
		tampered[10] ^= 1 // a nonce character
		forgedMAC := laptop[:len(laptop)-5] + strings.Repeat("A", 5)
		for name, tok := range map[string]string{
			"another user's token": otherUsers, "tampered nonce": string(tampered), "forged MAC": forgedMAC,
			"junk": "dv1.x.y", "empty": "",
		} {
			if r := login(password, "10.0.99.3", cookie(tok)...); r.status != http.StatusTooManyRequests {
				t.Fatalf("%s as cookie: %d %s, want 429 like an unknown device", name, r.status, r.body)
			}
		}
		// The device's own budget locks only that device.
		for i := range deviceFailures {
			if r := login("typo-"+strconv.Itoa(i), "10.0.99.4", cookie(phone)...); r.status != http.StatusUnauthorized {
				t.Fatalf("known device failure %d: %d %s", i+1, r.status, r.body)
			}
		}
		r = login(password, "10.0.99.4", cookie(phone)...)
		if r.status != http.StatusTooManyRequests {
			t.Fatalf("known device past its own budget: %d %s, want 429", r.status, r.body)
		}
		if ra, _ := strconv.Atoi(r.header.Get("Retry-After")); ra < 1 || ra > int(deviceWindow/time.Second) {
			t.Fatalf("device Retry-After %q, want at most 15 minutes", r.header.Get("Retry-After"))
		}
		if r := login(password, "10.0.99.4", cookie(laptop)...); r.status != http.StatusOK {
			t.Fatalf("the other known device, same address: %d %s, want 200", r.status, r.body)
		}
		// The other account was not touched by any of this.
		if r := h.do("POST", "/auth/login", map[string]string{"email": "other@example.com", "password": "other-password"}, "X-Test-IP", "10.0.99.1"); r.status != http.StatusOK {
			t.Fatalf("other account: %d %s", r.status, r.body)
		}
	}
	forEachThrottle(t, run)
}

// TestDeviceCookie: login sets the device token as an HttpOnly, Secure,
// SameSite=Strict cookie scoped to the auth routes, equal to the body's.
func TestDeviceCookie(t *testing.T) {
	t.Parallel()
	h := newHarness(t, "sqlite")
	h.register("a@example.com", "a-password-1")
	r := h.do("POST", "/auth/login", map[string]string{"email": "a@example.com", "password": "a-password-1"})
	s := h.decodeSession(r, http.StatusOK)
	res := http.Response{Header: r.header}
	var c *http.Cookie
	for _, x := range res.Cookies() {
		if x.Name == DeviceCookie {
			c = x
		}
	}
	if c == nil || c.Value != s.DeviceToken || !c.HttpOnly || !c.Secure || c.SameSite != http.SameSiteStrictMode ||
		c.Path != "/auth" || c.MaxAge != int(DeviceTokenTTL/time.Second) {
		t.Fatalf("Set-Cookie %q, want %s=<the body's device_token>; Path=/auth; Max-Age; HttpOnly; Secure; SameSite=Strict", r.header.Values("Set-Cookie"), DeviceCookie)
	}
	if r := h.refresh(s.RefreshToken); r.status != http.StatusOK || len(r.header.Values("Set-Cookie")) != 0 || strings.Contains(string(r.body), "device_token") {
		t.Fatalf("refresh: %d, cookies %q, body %s: a refresh proves no password and names no device", r.status, r.header.Values("Set-Cookie"), r.body)
	}
}

// TestDeviceTokenExpires: a device token is honoured for DeviceTokenTTL.
func TestDeviceTokenExpires(t *testing.T) {
	t.Parallel()
	clock := &fakeClock{t: time.Unix(1_700_000_000, 0)}
	d := devices{key: []byte("device-test-key"), now: clock.now}
	acct := accountKey("a@example.com")
	tok := d.issue(acct)
	if d.verify(acct, tok) == "" {
		t.Fatal("a fresh token is refused")
	}
	if d.verify(accountKey("b@example.com"), tok) != "" {
		t.Fatal("a token of a@ is a device of b@")
	}
	if (devices{key: []byte("another-key"), now: clock.now}).verify(acct, tok) != "" {
		t.Fatal("a token made with another key is accepted")
	}
	clock.add(DeviceTokenTTL - time.Second)
	if d.verify(acct, tok) == "" {
		t.Fatal("refused a second before it expires")
	}
	clock.add(time.Second)
	if d.verify(acct, tok) != "" {
		t.Fatal("accepted once expired")
	}
}

// TestChangePasswordFailuresStayOnTheSession: a wrong current password
// given to POST /auth/password counts on the session's own budget, not on
// the account-wide one (so it helps no one lock the owner out), and
// locks only that session.
func TestChangePasswordFailuresStayOnTheSession(t *testing.T) {
	run := func(t *testing.T, h *harness) {
		const email, password = "owner@example.com", "owner-password"
		h.register(email, password)
		stolen, other := h.login(email, password), h.login(email, password)
		change := func(s session, current string) resp {
			return h.do("POST", "/auth/password", map[string]string{"current_password": current, "new_password": "next-password-9"},
				append(bearerH(s.AccessToken), "X-Test-IP", "10.5.0.1")...)
		}
		// 95 failed logins from unknown devices: 5 left in the hour.
		for i := range 95 {
			r := h.do("POST", "/auth/login", map[string]string{"email": email, "password": "guess"}, "X-Test-IP", "10.6."+strconv.Itoa(i/10)+".1")
			if r.status != http.StatusUnauthorized {
				t.Fatalf("login guess %d: %d %s", i+1, r.status, r.body)
			}
		}
		for i := range deviceFailures {
			if r := change(stolen, "guess-"+strconv.Itoa(i)); r.status != http.StatusForbidden || r.code(t) != "wrong_password" {
				t.Fatalf("password guess %d: %d %s", i+1, r.status, r.body)
			}
		}
		if r := change(stolen, password); r.status != http.StatusTooManyRequests {
			t.Fatalf("password change past the session's budget: %d %s, want 429", r.status, r.body)
		}
		// The account-wide budget is where the logins left it.
		r := h.do("POST", "/auth/login", map[string]string{"email": email, "password": password}, "X-Test-IP", "10.7.0.1")
		if r.status != http.StatusOK {
			t.Fatalf("a new device after 95 login and 10 password guesses: %d %s, want 200", r.status, r.body)
		}
		if r := change(other, password); r.status != http.StatusNoContent {
			t.Fatalf("another session changes the password: %d %s", r.status, r.body)
		}
	}
	forEachThrottle(t, run)
}
