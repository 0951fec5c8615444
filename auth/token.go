package auth

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"sync"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/google/uuid"
)

// Token types carried in the "typ" claim.
const (
	tokenTypeAccess = "access"
)

// AccessClaims are the claims of an access token: sub, email, role, ws,
// iat, exp, iss, jti and typ ("access"), plus sid, the session (refresh
// token family) the token was issued for.
type AccessClaims struct {
	Email       string `json:"email"`
	Role        string `json:"role"`
	WorkspaceID string `json:"ws"`
	Type        string `json:"typ"`
	SessionID   string `json:"sid,omitempty"`
	jwt.RegisteredClaims
}

// tokenSigner issues and verifies HS256 access tokens.
type tokenSigner struct {
	key    []byte
	issuer string
	ttl    time.Duration
	leeway time.Duration
	parser *jwt.Parser
	macs   *sync.Pool // of *tokenMAC
}

// tokenLeeway is the clock skew tolerated on exp, nbf and iat.
const tokenLeeway = 5 * time.Second

func newTokenSigner(secret []byte, issuer string, ttl time.Duration) *tokenSigner {
	return &tokenSigner{
		key:    secret,
		issuer: issuer,
		ttl:    ttl,
		leeway: tokenLeeway,
		macs:   newMACPool(secret),
		// The algorithm is pinned: a token announcing "none", RS256 (a
		// public key used as HMAC secret) or anything else is refused
		// before its signature is looked at.
		parser: jwt.NewParser(
			jwt.WithValidMethods([]string{jwt.SigningMethodHS256.Alg()}),
			jwt.WithExpirationRequired(),
			jwt.WithIssuer(issuer),
			jwt.WithIssuedAt(),
			jwt.WithLeeway(tokenLeeway),
			jwt.WithStrictDecoding(),
		),
	}
}

// accessWire is the JSON of AccessClaims with plain field types: encoding
// and decoding it costs a fraction of jwt.RegisteredClaims, whose dates
// each run a nested json.Unmarshal.
type accessWire struct {
	Subject     string          `json:"sub"`
	Email       string          `json:"email"`
	Role        string          `json:"role"`
	WorkspaceID string          `json:"ws"`
	Type        string          `json:"typ"`
	SessionID   string          `json:"sid,omitempty"`
	Issuer      string          `json:"iss,omitempty"`
	ID          string          `json:"jti,omitempty"`
	ExpiresAt   json.Number     `json:"exp,omitempty"`
	IssuedAt    json.Number     `json:"iat,omitempty"`
	NotBefore   json.Number     `json:"nbf,omitempty"`
	Audience    json.RawMessage `json:"aud,omitempty"`
}

// UnmarshalJSON decodes the claims in one pass into plain types; golang-jwt
// calls it from Parser.ParseWithClaims and then validates the result.
func (c *AccessClaims) UnmarshalJSON(b []byte) error {
	var w accessWire
	if err := json.Unmarshal(b, &w); err != nil {
		return err
	}
	return c.fromWire(&w)
}

func (c *AccessClaims) fromWire(w *accessWire) error {
	*c = AccessClaims{
		Email: w.Email, Role: w.Role, WorkspaceID: w.WorkspaceID, Type: w.Type, SessionID: w.SessionID,
		RegisteredClaims: jwt.RegisteredClaims{Subject: w.Subject, Issuer: w.Issuer, ID: w.ID},
	}
	var err error
	if c.ExpiresAt, err = numericDate(w.ExpiresAt); err != nil {
		return err
	}
	if c.IssuedAt, err = numericDate(w.IssuedAt); err != nil {
		return err
	}
	if c.NotBefore, err = numericDate(w.NotBefore); err != nil {
		return err
	}
	if len(w.Audience) > 0 && string(w.Audience) != "null" {
		if err := c.Audience.UnmarshalJSON(w.Audience); err != nil {
			return err
		}
	}
	return nil
}

// numericDate reads a NumericDate as jwt.NumericDate.UnmarshalJSON does
// (seconds, possibly fractional); "" is an absent claim.
func numericDate(n json.Number) (*jwt.NumericDate, error) {
	if n == "" {
		return nil, nil
	}
	if i, err := strconv.ParseInt(string(n), 10, 64); err == nil && i > -1<<53 && i < 1<<53 {
		return jwt.NewNumericDate(time.Unix(i, 0)), nil
	}
	f, err := n.Float64()
	if err != nil {
		return nil, fmt.Errorf("could not convert json number value to float: %w", err)
	}
	sec, frac := math.Modf(f)
	return jwt.NewNumericDate(time.Unix(int64(sec), int64(frac*1e9))), nil
}

// strictBase64 is the base64url decoding of tokens: the unused low bits of
// the last character must be zero, so one token has exactly one spelling
// (a lenient decoder accepts four spellings of every HS256 signature).
var strictBase64 = base64.RawURLEncoding.Strict()

// hs256Header is the first segment of every access token:
// base64url({"alg":"HS256","typ":"JWT"}), what golang-jwt writes for HS256.
var hs256Header = base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"HS256","typ":"JWT"}`))

// issue returns a signed access token for u in session sid.
func (t *tokenSigner) issue(u User, sid string, now time.Time) (string, error) {
	jti, err := uuid.NewV7()
	if err != nil {
		return "", err
	}
	claims, err := json.Marshal(accessWire{
		Subject:     u.ID,
		Email:       u.Email,
		Role:        u.Role,
		WorkspaceID: u.WorkspaceID,
		Type:        tokenTypeAccess,
		SessionID:   sid,
		Issuer:      t.issuer,
		ID:          jti.String(),
		ExpiresAt:   json.Number(strconv.FormatInt(now.Add(t.ttl).Unix(), 10)),
		IssuedAt:    json.Number(strconv.FormatInt(now.Unix(), 10)),
	})
	if err != nil {
		return "", fmt.Errorf("auth: sign access token: %w", err)
	}
	// The header never changes and the claims are encoded above; the
	// signature is golang-jwt's HS256.
	enc := base64.RawURLEncoding
	b := make([]byte, 0, len(hs256Header)+1+enc.EncodedLen(len(claims))+1+enc.EncodedLen(32))
	b = append(b, hs256Header...)
	b = append(b, '.')
	b = enc.AppendEncode(b, claims)
	sig, err := jwt.SigningMethodHS256.Sign(string(b), t.key)
	if err != nil {
		return "", fmt.Errorf("auth: sign access token: %w", err)
	}
	b = append(b, '.')
	b = enc.AppendEncode(b, sig)
	return string(b), nil
}

var errWrongType = errors.New("token type is not access")

// verify checks the signature, algorithm, issuer, expiry and type of an
// access token and returns its claims. Every failure wraps ErrInvalidToken.
func (t *tokenSigner) verify(token string) (*AccessClaims, error) {
	c, handled, err := t.verifyFast(token)
	if !handled {
		c, err = t.verifyJWT(token)
	}
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidToken, err)
	}
	if c.Type != tokenTypeAccess {
		return nil, fmt.Errorf("%w: %w", ErrInvalidToken, errWrongType)
	}
	if c.Subject == "" {
		return nil, fmt.Errorf("%w: no subject", ErrInvalidToken)
	}
	return c, nil
}

// verifyJWT is golang-jwt's verification with the pinned options.
func (t *tokenSigner) verifyJWT(token string) (*AccessClaims, error) {
	var c AccessClaims
	if _, err := t.parser.ParseWithClaims(token, &c, t.keyFunc); err != nil {
		return nil, err
	}
	return &c, nil
}

func (t *tokenSigner) keyFunc(tok *jwt.Token) (any, error) {
	// WithValidMethods already refused other algorithms; this is the
	// second lock on the same door.
	if _, ok := tok.Method.(*jwt.SigningMethodHMAC); !ok {
		return nil, fmt.Errorf("unexpected signing method %v", tok.Header["alg"])
	}
	return t.key, nil
}
