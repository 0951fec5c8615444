package auth

import (
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

var testSecret = []byte("0123456789abcdef0123456789abcdef")

func validClaims(now time.Time) jwt.MapClaims {
	return jwt.MapClaims{
		"sub": "user-1", "email": "a@example.com", "role": "user", "ws": "ws-1",
		"iat": now.Unix(), "exp": now.Add(time.Hour).Unix(), "iss": "appkernel",
		"jti": "j1", "typ": "access",
	}
}

func sign(t testing.TB, m jwt.SigningMethod, key any, c jwt.MapClaims) string {
	t.Helper()
	s, err := jwt.NewWithClaims(m, c).SignedString(key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// forgedTokens is the token forgery table: each entry must be refused with
// ErrInvalidToken. The HTTP test runs the same table through Authenticate.
func forgedTokens(t testing.TB, secret []byte) map[string]string {
	t.Helper()
	now := time.Now()
	with := func(k string, v any) jwt.MapClaims {
		c := validClaims(now)
		if v == nil {
			delete(c, k)
		} else {
			c[k] = v
		}
		return c
	}
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	valid := sign(t, jwt.SigningMethodHS256, secret, validClaims(now))
	parts := strings.Split(valid, ".")
	tampered := parts[0] + "." + b64(`{"sub":"admin-1","role":"admin","iss":"appkernel","typ":"access","exp":9999999999}`) + "." + parts[2]
	return map[string]string{
		"alg none":         sign(t, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, validClaims(now)),
		"alg RS256":        sign(t, jwt.SigningMethodRS256, rsaKey, validClaims(now)),
		"alg HS512":        sign(t, jwt.SigningMethodHS512, secret, validClaims(now)),
		"alg HS384":        sign(t, jwt.SigningMethodHS384, secret, validClaims(now)),
		"bad signature":    sign(t, jwt.SigningMethodHS256, []byte("another-secret-another-secret-!!"), validClaims(now)),
		"tampered claims":  tampered,
		"wrong issuer":     sign(t, jwt.SigningMethodHS256, secret, with("iss", "someone-else")),
		"no issuer":        sign(t, jwt.SigningMethodHS256, secret, with("iss", nil)),
		"no exp":           sign(t, jwt.SigningMethodHS256, secret, with("exp", nil)),
		"expired":          sign(t, jwt.SigningMethodHS256, secret, with("exp", now.Add(-time.Minute).Unix())),
		"typ refresh":      sign(t, jwt.SigningMethodHS256, secret, with("typ", "refresh")),
		"typ missing":      sign(t, jwt.SigningMethodHS256, secret, with("typ", nil)),
		"typ other":        sign(t, jwt.SigningMethodHS256, secret, with("typ", "id")),
		"issued in future": sign(t, jwt.SigningMethodHS256, secret, with("iat", now.Add(time.Hour).Unix())),
		"not a jwt":        "not-a-jwt",
		"two parts":        parts[0] + "." + parts[1],
		// The same signature bytes spelled with the last character's
		// unused bits set: a lenient base64 decoder accepts it.
		"non-canonical signature": respell(valid),
	}
}

// respell returns tok with the unused low bits of its last base64url
// character set: the same bytes to a lenient decoder, a different string.
func respell(tok string) string {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	v := strings.IndexByte(alphabet, tok[len(tok)-1])
	return tok[:len(tok)-1] + string(alphabet[v|1])
}

// tamper returns tok with one character in the middle of its last segment
// replaced by a different one.
func tamper(tok string) string {
	i := strings.LastIndexByte(tok, '.') + 1
	i += (len(tok) - i) / 2
	c := byte('A')
	if tok[i] == c {
		c = 'B'
	}
	return tok[:i] + string(c) + tok[i+1:]
}

func b64(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }

func TestVerifyRejectsForgedTokens(t *testing.T) {
	t.Parallel()
	ts := newTokenSigner(testSecret, "appkernel", time.Hour)
	for name, tok := range forgedTokens(t, testSecret) {
		if c, err := ts.verify(tok); !errors.Is(err, ErrInvalidToken) {
			t.Errorf("%s: verify = %+v, %v; want ErrInvalidToken", name, c, err)
		}
	}
}

func TestIssueThenVerify(t *testing.T) {
	t.Parallel()
	ts := newTokenSigner(testSecret, "appkernel", time.Hour)
	now := time.Now()
	u := User{ID: "u1", Email: "a@example.com", Role: RoleAdmin, WorkspaceID: "w1"}
	tok, err := ts.issue(u, "s1", now)
	if err != nil {
		t.Fatal(err)
	}
	c, err := ts.verify(tok)
	if err != nil {
		t.Fatal(err)
	}
	if c.Subject != "u1" || c.Email != u.Email || c.Role != RoleAdmin || c.WorkspaceID != "w1" ||
		c.SessionID != "s1" || c.Type != "access" || c.Issuer != "appkernel" || c.ID == "" {
		t.Fatalf("claims = %+v", c)
	}
	if got := c.ExpiresAt.Sub(c.IssuedAt.Time); got != time.Hour {
		t.Fatalf("exp - iat = %s, want 1h", got)
	}
	// The header names HS256 and nothing else.
	hdr, _ := base64.RawURLEncoding.DecodeString(strings.Split(tok, ".")[0])
	if !strings.Contains(string(hdr), `"alg":"HS256"`) {
		t.Fatalf("header %s", hdr)
	}
	other := newTokenSigner(testSecret, "other-service", time.Hour)
	if _, err := other.verify(tok); !errors.Is(err, ErrInvalidToken) {
		t.Fatalf("token of issuer appkernel accepted by issuer other-service: %v", err)
	}
}
