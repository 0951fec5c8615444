package auth

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"appkernel/db"
)

// A session is one login: a row of auth_sessions with an absolute expiry,
// and a chain of refresh tokens (its family) of which only the newest is
// live. Access tokens name their session in the "sid" claim, so ending a
// session also ends its access tokens (within IdentityCacheTTL).
//
// Refresh tokens are 256 random bits, shown once and stored as their
// SHA-256. Rotation writes the successor with rotated_from = the spent
// token's id under a unique index, so of two concurrent refreshes of one
// token exactly one rotates. The successor is derived from the spent token
// (HMAC with a key derived from the secret), so the loser of that race —
// or a client retrying a lost response within RefreshGrace — gets the very
// same successor back instead of a second pair: one token, one rotation,
// no 409 for an honest client. A spent token presented after RefreshGrace
// is treated as stolen: the whole session is revoked.

const refreshTokenBytes = 32

func newRefreshToken() (string, error) {
	var b [refreshTokenBytes]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("auth: refresh token: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b[:]), nil
}

func hashToken(raw string) string {
	sum := sha256.Sum256([]byte(raw))
	return hex.EncodeToString(sum[:])
}

// successorOf is the refresh token that rotating raw yields.
func (s *Service) successorOf(raw string) string {
	mac := hmac.New(sha256.New, s.successorKey)
	mac.Write([]byte(raw))
	return base64.RawURLEncoding.EncodeToString(mac.Sum(nil))
}

// startSession opens a session for u and returns its first token pair.
func (s *Service) startSession(ctx context.Context, u User) (*Tokens, error) {
	raw, err := newRefreshToken()
	if err != nil {
		return nil, err
	}
	now := s.now()
	var sid string
	err = s.store.Tx(ctx, func(tx *db.Store) error {
		sess, err := tx.SaveEntity(ctx, TableSessions, db.Entity{
			"user_id": u.ID, "expires_at": now.Add(s.cfg.RefreshTTL),
		})
		if err != nil {
			return err
		}
		sid, _ = sess["id"].(string)
		_, err = tx.SaveEntity(ctx, TableRefresh, db.Entity{
			"session_id": sid, "user_id": u.ID, "token_hash": hashToken(raw),
		})
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("auth: start session: %w", err)
	}
	return s.tokens(u, sid, raw)
}

func (s *Service) tokens(u User, sid, refresh string) (*Tokens, error) {
	access, err := s.signer.issue(u, sid, s.now())
	if err != nil {
		return nil, err
	}
	return &Tokens{
		User:         u,
		AccessToken:  access,
		RefreshToken: refresh,
		TokenType:    "bearer",
		ExpiresIn:    int64(s.cfg.AccessTTL / time.Second),
	}, nil
}

// Refresh spends a refresh token and returns a new pair (POST
// /auth/refresh). See the comment at the top of session.go for rotation,
// grace and reuse. Errors: ErrInvalidToken (unknown, expired, revoked or
// reused token), ErrAccountDisabled.
func (s *Service) Refresh(ctx context.Context, raw string) (*Tokens, error) {
	if len(raw) != base64.RawURLEncoding.EncodedLen(refreshTokenBytes) {
		return nil, ErrInvalidToken
	}
	tok, err := s.findRefresh(ctx, raw)
	if err != nil {
		return nil, err
	}
	sid, _ := tok["session_id"].(string)
	tokID, _ := tok["id"].(string)
	u, err := s.sessionUser(ctx, sid, tok)
	if err != nil {
		return nil, err
	}
	next := s.successorOf(raw)
	// One INSERT is the whole rotation: the successor row names its
	// predecessor in rotated_from (unique), so a token is spent exactly
	// when its successor exists, and the successor's created_at is when it
	// was spent.
	_, err = s.store.SaveEntity(ctx, TableRefresh, db.Entity{
		"session_id": sid, "user_id": u.ID, "token_hash": hashToken(next), "rotated_from": tokID,
	})
	if err == nil {
		return s.tokens(u, sid, next)
	}
	if !errors.Is(err, db.ErrConflict) {
		return nil, fmt.Errorf("auth: refresh: %w", err)
	}
	// Spent already — by a concurrent refresh of the same token, by a
	// client retrying a lost response, or by someone replaying it.
	rows, err := s.store.FindEntities(ctx, TableRefresh, db.Query{Where: "[rotated_from] = ?", Params: []any{tokID}, Limit: 1})
	if err != nil {
		return nil, fmt.Errorf("auth: refresh: %w", err)
	}
	if len(rows) == 0 {
		return nil, fmt.Errorf("auth: refresh: successor of a spent token not found: %w", ErrInvalidToken)
	}
	spent, ok := parseTime(rows[0]["created_at"])
	if ok && s.now().Sub(spent) <= s.cfg.RefreshGrace {
		return s.tokens(u, sid, next)
	}
	// A spent token after the grace window: someone replays a stolen token.
	if err := s.revokeSession(ctx, sid); err != nil {
		return nil, err
	}
	s.log.WarnContext(ctx, "refresh token reused after rotation; session revoked", "user_id", u.ID, "session_id", sid)
	return nil, fmt.Errorf("%w: refresh token reused", ErrInvalidToken)
}

func (s *Service) findRefresh(ctx context.Context, raw string) (db.Entity, error) {
	rows, err := s.store.FindEntities(ctx, TableRefresh, db.Query{Where: "[token_hash] = ?", Params: []any{hashToken(raw)}, Limit: 1})
	if err != nil {
		return nil, fmt.Errorf("auth: refresh: %w", err)
	}
	if len(rows) == 0 {
		return nil, ErrInvalidToken
	}
	return rows[0], nil
}

// sessionUser checks that session sid is live and returns its active user.
func (s *Service) sessionUser(ctx context.Context, sid string, tok db.Entity) (User, error) {
	sess, err := s.store.GetEntity(ctx, TableSessions, sid)
	if errors.Is(err, db.ErrNotFound) {
		return User{}, ErrInvalidToken
	}
	if err != nil {
		return User{}, fmt.Errorf("auth: refresh: %w", err)
	}
	if !sessionLive(sess, s.now()) {
		return User{}, ErrInvalidToken
	}
	// The user comes from the identity cache: a deactivation reaches
	// refreshes within IdentityCacheTTL, as it reaches access tokens (and
	// at once in the process that made it).
	userID, _ := tok["user_id"].(string)
	st, err := s.cachedUser(ctx, userID)
	if err != nil {
		return User{}, err
	}
	if !st.ok {
		if st.u.ID == "" {
			return User{}, ErrInvalidToken // deleted
		}
		return User{}, ErrAccountDisabled
	}
	return st.u, nil
}

func sessionLive(sess db.Entity, now time.Time) bool {
	if sess["revoked_at"] != nil || sess["deleted_at"] != nil {
		return false
	}
	exp, ok := parseTime(sess["expires_at"])
	return ok && now.Before(exp)
}

// Logout ends the session of a refresh token (POST /auth/logout). An
// unknown or already ended session is not an error.
func (s *Service) Logout(ctx context.Context, refreshToken string) error {
	tok, err := s.findRefresh(ctx, refreshToken)
	if errors.Is(err, ErrInvalidToken) {
		return nil
	}
	if err != nil {
		return err
	}
	sid, _ := tok["session_id"].(string)
	return s.revokeSession(ctx, sid)
}

// LogoutAll ends every session of userID (POST /auth/logout {"all":true}).
func (s *Service) LogoutAll(ctx context.Context, userID string) error {
	return s.revokeSessions(ctx, userID, "")
}

func (s *Service) revokeSession(ctx context.Context, sid string) error {
	if _, err := s.store.SaveEntity(ctx, TableSessions, db.Entity{"id": sid, "revoked_at": s.now()}); err != nil {
		return fmt.Errorf("auth: revoke session: %w", err)
	}
	s.sessions.forget(sid)
	return nil
}

// revokeSessions ends every live session of userID except keep.
func (s *Service) revokeSessions(ctx context.Context, userID, keep string) error {
	rows, err := s.store.FindEntities(ctx, TableSessions, db.Query{
		Where: "[user_id] = ? AND [revoked_at] IS NULL AND [id] <> ?", Params: []any{userID, keep},
	})
	if err != nil {
		return fmt.Errorf("auth: revoke sessions: %w", err)
	}
	for _, r := range rows {
		sid, _ := r["id"].(string)
		if err := s.revokeSession(ctx, sid); err != nil {
			return err
		}
	}
	return nil
}

func parseTime(v any) (time.Time, bool) {
	switch t := v.(type) {
	case string:
		p, err := time.Parse(time.RFC3339Nano, t)
		return p, err == nil
	case time.Time:
		return t, true
	}
	return time.Time{}, false
}
