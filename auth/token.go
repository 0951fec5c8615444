package auth

import (
	"errors"
	"fmt"
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
	parser *jwt.Parser
}

func newTokenSigner(secret []byte, issuer string, ttl time.Duration) *tokenSigner {
	return &tokenSigner{
		key:    secret,
		issuer: issuer,
		ttl:    ttl,
		// The algorithm is pinned: a token announcing "none", RS256 (a
		// public key used as HMAC secret) or anything else is refused
		// before its signature is looked at.
		parser: jwt.NewParser(
			jwt.WithValidMethods([]string{jwt.SigningMethodHS256.Alg()}),
			jwt.WithExpirationRequired(),
			jwt.WithIssuer(issuer),
			jwt.WithIssuedAt(),
			jwt.WithLeeway(5*time.Second),
		),
	}
}

// issue returns a signed access token for u in session sid.
func (t *tokenSigner) issue(u User, sid string, now time.Time) (string, error) {
	jti, err := uuid.NewV7()
	if err != nil {
		return "", err
	}
	c := AccessClaims{
		Email:       u.Email,
		Role:        u.Role,
		WorkspaceID: u.WorkspaceID,
		Type:        tokenTypeAccess,
		SessionID:   sid,
		RegisteredClaims: jwt.RegisteredClaims{
			Subject:   u.ID,
			Issuer:    t.issuer,
			IssuedAt:  jwt.NewNumericDate(now),
			ExpiresAt: jwt.NewNumericDate(now.Add(t.ttl)),
			ID:        jti.String(),
		},
	}
	s, err := jwt.NewWithClaims(jwt.SigningMethodHS256, c).SignedString(t.key)
	if err != nil {
		return "", fmt.Errorf("auth: sign access token: %w", err)
	}
	return s, nil
}

var errWrongType = errors.New("token type is not access")

// verify checks the signature, algorithm, issuer, expiry and type of an
// access token and returns its claims. Every failure wraps ErrInvalidToken.
func (t *tokenSigner) verify(token string) (*AccessClaims, error) {
	var c AccessClaims
	_, err := t.parser.ParseWithClaims(token, &c, t.keyFunc)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidToken, err)
	}
	if c.Type != tokenTypeAccess {
		return nil, fmt.Errorf("%w: %w", ErrInvalidToken, errWrongType)
	}
	if c.Subject == "" {
		return nil, fmt.Errorf("%w: no subject", ErrInvalidToken)
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
