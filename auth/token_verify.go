package auth

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// A token's first sight is the one place where verification is on the
// request path, and golang-jwt's Parser spends most of it in encoding/json
// (the header into a map, then the claims; both before the signature is
// checked). verifyFast handles the only tokens the service issues — header
// exactly hs256Header — with the same checks in a cheaper order: signature
// first (constant-time), then the claims with a scanner for flat objects of
// strings and integers, then the validation golang-jwt's Validator does
// with the options of newTokenSigner. Every other token (another header,
// escapes, unknown claims, fractional dates, …) goes to golang-jwt's Parser
// or to encoding/json, so odd input gets the reference behaviour.
// TestVerifyFastAgreesWithGolangJWT holds the two paths to the same answers.

var (
	errFastMalformed = errors.New("token is malformed")
	errFastSignature = errors.New("signature is invalid")
)

// tokenMAC is a reusable HMAC-SHA256 of the signing key with its buffers.
type tokenMAC struct {
	h   hash.Hash
	buf []byte
	sum []byte
}

func newMACPool(key []byte) *sync.Pool {
	return &sync.Pool{New: func() any { return &tokenMAC{h: hmac.New(sha256.New, key)} }}
}

// verifyFast returns handled false when the token is not in the form the
// service issues; the caller then verifies it with golang-jwt.
func (t *tokenSigner) verifyFast(token string) (c *AccessClaims, handled bool, err error) {
	head, rest, ok := strings.Cut(token, ".")
	if !ok || head != hs256Header {
		return nil, false, nil
	}
	payload, sig, ok := strings.Cut(rest, ".")
	if !ok || strings.IndexByte(sig, '.') >= 0 {
		return nil, false, nil
	}
	enc := strictBase64
	var sigBuf [sha256.Size]byte
	if enc.DecodedLen(len(sig)) != sha256.Size {
		return nil, true, errFastSignature
	}
	if n, err := enc.Decode(sigBuf[:], []byte(sig)); err != nil || n != sha256.Size {
		return nil, true, errFastSignature
	}
	m := t.macs.Get().(*tokenMAC)
	defer t.macs.Put(m)
	m.buf = append(m.buf[:0], token[:len(head)+1+len(payload)]...)
	m.h.Reset()
	m.h.Write(m.buf)
	m.sum = m.h.Sum(m.sum[:0])
	if !hmac.Equal(m.sum, sigBuf[:]) {
		return nil, true, errFastSignature
	}
	n := enc.DecodedLen(len(payload))
	m.buf = slices.Grow(m.buf[:0], n)[:n]
	n, err = enc.Decode(m.buf, []byte(payload))
	if err != nil {
		return nil, true, errFastMalformed
	}
	claims := string(m.buf[:n]) // the one copy: every claim below is a substring of it
	var w accessWire
	if !scanClaims(claims, &w) {
		w = accessWire{}
		if err := json.Unmarshal([]byte(claims), &w); err != nil {
			return nil, true, fmt.Errorf("%w: %w", errFastMalformed, err)
		}
	}
	c = new(AccessClaims)
	if err := c.fromWire(&w); err != nil {
		return nil, true, fmt.Errorf("%w: %w", errFastMalformed, err)
	}
	return c, true, t.validate(c, time.Now())
}

// validate does what jwt.Validator does with WithExpirationRequired,
// WithIssuedAt, WithIssuer and WithLeeway (no audience is configured).
func (t *tokenSigner) validate(c *AccessClaims, now time.Time) error {
	var errs []error
	switch {
	case c.ExpiresAt == nil:
		errs = append(errs, jwt.ErrTokenRequiredClaimMissing)
	case !now.Before(c.ExpiresAt.Add(t.leeway)):
		errs = append(errs, jwt.ErrTokenExpired)
	}
	if c.NotBefore != nil && now.Before(c.NotBefore.Add(-t.leeway)) {
		errs = append(errs, jwt.ErrTokenNotValidYet)
	}
	if c.IssuedAt != nil && now.Before(c.IssuedAt.Add(-t.leeway)) {
		errs = append(errs, jwt.ErrTokenUsedBeforeIssued)
	}
	if c.Issuer != t.issuer {
		errs = append(errs, jwt.ErrTokenInvalidIssuer)
	}
	if len(errs) > 0 {
		return fmt.Errorf("%w: %w", jwt.ErrTokenInvalidClaims, errors.Join(errs...))
	}
	return nil
}

// scanClaims decodes a flat JSON object whose keys are the known claims
// (exact spelling) and whose values are plain strings (no escapes, ASCII),
// plain integers or null. It reports false on anything else, leaving the
// input to encoding/json.
func scanClaims(b string, w *accessWire) bool {
	i := skipSpace(b, 0)
	if i >= len(b) || b[i] != '{' {
		return false
	}
	i = skipSpace(b, i+1)
	if i < len(b) && b[i] == '}' {
		return skipSpace(b, i+1) == len(b)
	}
	for {
		key, j, ok := scanString(b, i)
		if !ok {
			return false
		}
		i = skipSpace(b, j)
		if i >= len(b) || b[i] != ':' {
			return false
		}
		i = skipSpace(b, i+1)
		if i >= len(b) {
			return false
		}
		var str, num string
		isNull := false
		switch c := b[i]; {
		case c == '"':
			s, j, ok := scanString(b, i)
			if !ok {
				return false
			}
			str, i = s, j
		case c == '-' || (c >= '0' && c <= '9'):
			j := i
			if b[j] == '-' {
				j++
			}
			start := j
			for j < len(b) && b[j] >= '0' && b[j] <= '9' {
				j++
			}
			if j == start || (b[start] == '0' && j-start > 1) || j-start > 18 {
				return false
			}
			num, i = b[i:j], j
		case c == 'n' && len(b)-i >= 4 && b[i:i+4] == "null":
			isNull, i = true, i+4
		default:
			return false
		}
		var sp *string
		var np *json.Number
		switch key {
		case "sub":
			sp = &w.Subject
		case "email":
			sp = &w.Email
		case "role":
			sp = &w.Role
		case "ws":
			sp = &w.WorkspaceID
		case "typ":
			sp = &w.Type
		case "sid":
			sp = &w.SessionID
		case "iss":
			sp = &w.Issuer
		case "jti":
			sp = &w.ID
		case "exp":
			np = &w.ExpiresAt
		case "iat":
			np = &w.IssuedAt
		case "nbf":
			np = &w.NotBefore
		default:
			return false
		}
		switch {
		case isNull: // encoding/json leaves the field as it is
		case sp != nil:
			if num != "" {
				return false // encoding/json refuses a number for a string claim
			}
			*sp = str
		default:
			if num == "" {
				return false // a quoted date: encoding/json's rules apply
			}
			*np = json.Number(num)
		}
		i = skipSpace(b, i)
		if i >= len(b) {
			return false
		}
		if b[i] == '}' {
			return skipSpace(b, i+1) == len(b)
		}
		if b[i] != ',' {
			return false
		}
		i = skipSpace(b, i+1)
	}
}

// scanString reads the JSON string at b[i] when it has no escapes and only
// printable ASCII; it returns the content and the index after the quote.
func scanString(b string, i int) (string, int, bool) {
	if i >= len(b) || b[i] != '"' {
		return "", 0, false
	}
	for j := i + 1; j < len(b); j++ {
		switch c := b[j]; {
		case c == '"':
			return b[i+1 : j], j + 1, true
		case c == '\\' || c < 0x20 || c >= 0x80:
			return "", 0, false
		}
	}
	return "", 0, false
}

func skipSpace(b string, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}
