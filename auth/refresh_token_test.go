package auth

import (
	"context"
	"encoding/base64"
	"net/http"
	"testing"
	"time"

	"github.com/google/uuid"
)

// TestRefreshTokenForgery: a refresh token is only accepted with the tag the
// service computed; changing any byte (the session id included), the
// length, or minting one with another secret is refused as invalid_token.
func TestRefreshTokenForgery(t *testing.T) {
	h := newHarness(t, "sqlite")
	s := h.register("a@example.com", "a-password-1")
	raw, err := base64.RawURLEncoding.DecodeString(s.RefreshToken)
	if err != nil || len(raw) != refreshRawLen {
		t.Fatalf("refresh token %q: %d bytes, %v", s.RefreshToken, len(raw), err)
	}
	flip := func(i int) string {
		b := append([]byte(nil), raw...)
		b[i] ^= 0x01
		return base64.RawURLEncoding.EncodeToString(b)
	}
	other := *h.auth
	other.refreshTagKey = []byte("another key, another key, another")
	sid, _ := h.auth.openRefresh(s.RefreshToken)
	cases := map[string]string{
		"session id byte":  flip(0),
		"random byte":      flip(sessionIDBytes + 3),
		"tag byte":         flip(refreshRawLen - 1),
		"truncated":        s.RefreshToken[:len(s.RefreshToken)-1],
		"extended":         s.RefreshToken + "A",
		"other secret":     other.sealRefresh(sid, raw[sessionIDBytes:sessionIDBytes+refreshRandLen]),
		"unknown session":  h.auth.sealRefresh(uuid.Must(uuid.NewV7()), raw[sessionIDBytes:sessionIDBytes+refreshRandLen]),
		"not base64":       "!" + s.RefreshToken[1:],
		"empty":            "",
		"old 43-char form": s.RefreshToken[:43],
		"non-canonical":    respell(s.RefreshToken),
	}
	for name, tok := range cases {
		if r := h.refresh(tok); r.status != http.StatusUnauthorized || r.code(t) != "invalid_token" {
			t.Errorf("%s: %d %s, want 401 invalid_token", name, r.status, r.body)
		}
	}
	// None of the attempts spent or revoked the real token.
	h.decodeSession(h.refresh(s.RefreshToken), http.StatusOK)
}

// TestRefreshIsOneWriteTransaction: once the session and user are cached, a
// rotation sends BEGIN, one INSERT and COMMIT — no read, no second write —
// and a forged token sends nothing at all.
func TestRefreshIsOneStatement(t *testing.T) {
	h := newHarness(t, "sqlite")
	s := h.register("a@example.com", "a-password-1")
	ctx := context.Background()
	next, err := h.auth.Refresh(ctx, s.RefreshToken) // warms the table's schema cache
	if err != nil {
		t.Fatal(err)
	}
	before := h.store.Stats().Statements
	if _, err := h.auth.Refresh(ctx, next.RefreshToken); err != nil {
		t.Fatal(err)
	}
	if n := h.store.Stats().Statements - before; n != 1 {
		t.Fatalf("a rotation sent %d statements, want 1 (the INSERT of the successor)", n)
	}
	before = h.store.Stats().Statements
	if _, err := h.auth.Refresh(ctx, tamper(next.RefreshToken)); err == nil {
		t.Fatal("forged token accepted")
	}
	if n := h.store.Stats().Statements - before; n != 0 {
		t.Fatalf("a forged token sent %d statements, want 0", n)
	}
}

// TestRefreshRevocationAcrossProcesses: two services on one database (two
// processes of one app). A logout in one ends the session's refreshes in
// the other within IdentityCacheTTL, as it ends its access tokens.
func TestRefreshRevocationAcrossProcesses(t *testing.T) {
	const ttl = 300 * time.Millisecond
	a := newHarness(t, "sqlite", withConfig(func(c *Config) { c.IdentityCacheTTL = ttl }))
	b := newHarnessOn(t, a.store, withConfig(func(c *Config) { c.IdentityCacheTTL = ttl }))
	s := a.register("a@example.com", "a-password-1")
	n := b.decodeSession(b.refresh(s.RefreshToken), http.StatusOK) // b caches the live session
	if r := a.do("POST", "/auth/logout", map[string]string{"refresh_token": n.RefreshToken}); r.status != http.StatusNoContent {
		t.Fatalf("logout: %d %s", r.status, r.body)
	}
	if r := a.refresh(n.RefreshToken); r.status != http.StatusUnauthorized {
		t.Fatalf("refresh in the process that logged out: %d", r.status)
	}
	time.Sleep(ttl + 50*time.Millisecond)
	if r := b.refresh(n.RefreshToken); r.status != http.StatusUnauthorized {
		t.Fatalf("refresh in another process after IdentityCacheTTL: %d %s", r.status, r.body)
	}
	if r := b.do("GET", "/auth/me", nil, bearerH(n.AccessToken)...); r.status != http.StatusUnauthorized {
		t.Fatalf("access token in another process after IdentityCacheTTL: %d", r.status)
	}
}

// Two services on one database with one secret but different issuers do
// not take each other's refresh tokens (nor access tokens); one with the
// same issuer does.
func TestRefreshTokensAreBoundToTheIssuer(t *testing.T) {
	h := newHarness(t, "sqlite", withSignup)
	s := h.register("a@example.com", "a-password-1")
	other := newHarnessOn(t, h.store, withSignup, withConfig(func(c *Config) { c.Issuer = "another-service" }))
	if r := other.refresh(s.RefreshToken); r.status != http.StatusUnauthorized {
		t.Fatalf("refresh at another issuer: %d %s", r.status, r.body)
	}
	if r := other.do("GET", "/auth/me", nil, bearerH(s.AccessToken)...); r.status != http.StatusUnauthorized {
		t.Fatalf("access token at another issuer: %d %s", r.status, r.body)
	}
	same := newHarnessOn(t, h.store, withSignup)
	same.decodeSession(same.refresh(s.RefreshToken), http.StatusOK)
}
