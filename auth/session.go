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

	"github.com/google/uuid"

	"appkernel/db"
)

// A session is one login: a row of auth_sessions with an absolute expiry,
// and a chain of refresh tokens (its family) of which only the newest is
// live. Access tokens name their session in the "sid" claim, so ending a
// session also ends its access tokens and its refresh tokens (at once in
// the process that ends it, within IdentityCacheTTL in others: session
// states are cached like users).
//
// A refresh token is base64url(session id [16] | r [32] | tag [16]): r is
// 256 random bits at login, tag a MAC (key derived from the secret) over
// the rest, so a token the service did not mint is refused without a
// database read, and the session it belongs to is known without one.
// Tokens are shown once and stored as their SHA-256.
//
// Rotation is one INSERT, the whole of one short write transaction: the
// successor's row names its predecessor's hash in rotated_from under a
// unique index, so a token is spent exactly when its successor exists and
// of two concurrent refreshes of one token exactly one rotates. The
// successor is derived from the spent token (HMAC with a key derived from
// the secret), so the loser of that race — or a client retrying a lost
// response within RefreshGrace — gets the very same successor back instead
// of a second pair: one token, one rotation, no 409 for an honest client. A
// spent token presented after RefreshGrace is treated as stolen: the whole
// session is revoked.

const (
	sessionIDBytes = 16
	refreshRandLen = 32
	refreshTagLen  = 16
	refreshRawLen  = sessionIDBytes + refreshRandLen + refreshTagLen
)

// refreshTokenLen is the length of a refresh token's text.
var refreshTokenLen = base64.RawURLEncoding.EncodedLen(refreshRawLen)

// newRefreshToken returns the first refresh token of session sid.
func (s *Service) newRefreshToken(sid string) (string, error) {
	id, err := uuid.Parse(sid)
	if err != nil {
		return "", fmt.Errorf("auth: refresh token: session id %q: %w", sid, err)
	}
	var r [refreshRandLen]byte
	if _, err := rand.Read(r[:]); err != nil {
		return "", fmt.Errorf("auth: refresh token: %w", err)
	}
	return s.sealRefresh(id, r[:]), nil
}

// sealRefresh returns the token text of session id with random part r.
func (s *Service) sealRefresh(id uuid.UUID, r []byte) string {
	var b [refreshRawLen]byte
	copy(b[:], id[:])
	copy(b[sessionIDBytes:], r)
	mac := hmac.New(sha256.New, s.refreshTagKey)
	mac.Write(b[:sessionIDBytes+refreshRandLen])
	copy(b[sessionIDBytes+refreshRandLen:], mac.Sum(nil))
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// openRefresh checks the tag of a refresh token and returns its session id.
func (s *Service) openRefresh(raw string) (uuid.UUID, bool) {
	var b [refreshRawLen]byte
	if len(raw) != refreshTokenLen {
		return uuid.UUID{}, false
	}
	if n, err := strictBase64.Decode(b[:], []byte(raw)); err != nil || n != refreshRawLen {
		return uuid.UUID{}, false
	}
	mac := hmac.New(sha256.New, s.refreshTagKey)
	mac.Write(b[:sessionIDBytes+refreshRandLen])
	if !hmac.Equal(mac.Sum(nil)[:refreshTagLen], b[sessionIDBytes+refreshRandLen:]) {
		return uuid.UUID{}, false
	}
	return uuid.UUID(b[:sessionIDBytes]), true
}

// successorOf is the refresh token that rotating raw (of session id) yields.
func (s *Service) successorOf(id uuid.UUID, raw string) string {
	mac := hmac.New(sha256.New, s.successorKey)
	mac.Write([]byte(raw))
	return s.sealRefresh(id, mac.Sum(nil))
}

func hashToken(raw string) string {
	sum := sha256.Sum256([]byte(raw))
	return hex.EncodeToString(sum[:])
}

// sessionState is a cached auth_sessions row: live is false when the
// session is revoked, deleted or unknown.
type sessionState struct {
	userID  string
	expires time.Time
	live    bool
}

func (st sessionState) liveAt(now time.Time) bool { return st.live && now.Before(st.expires) }

// sessionState returns the state of session sid, cached for IdentityCacheTTL.
func (s *Service) sessionState(ctx context.Context, sid string) (sessionState, error) {
	return s.sessions.Get(ctx, sid, func(ctx context.Context) (sessionState, error) {
		sess, err := s.store.GetEntity(ctx, TableSessions, sid)
		if errors.Is(err, db.ErrNotFound) {
			return sessionState{}, nil
		}
		if err != nil {
			return sessionState{}, err
		}
		owner, _ := sess["user_id"].(string)
		exp, ok := parseTime(sess["expires_at"])
		return sessionState{userID: owner, expires: exp, live: ok && sess["revoked_at"] == nil}, nil
	})
}

// startSession opens a session for u, who just registered, and returns
// its first token pair and a device token (the client is a known device).
func (s *Service) startSession(ctx context.Context, u User) (*Tokens, error) {
	sid, raw, err := s.openSession(ctx, u)
	if err != nil {
		return nil, err
	}
	t, err := s.tokens(u, sid, raw)
	if err != nil {
		return nil, err
	}
	t.DeviceToken = s.devices.issue(accountKey(u.Email))
	return t, nil
}

// openSession stores a new session of u with its first refresh token and
// returns the session id and the token.
func (s *Service) openSession(ctx context.Context, u User) (sid, raw string, err error) {
	now := s.now()
	expires := now.Add(s.cfg.RefreshTTL)
	err = s.store.Tx(ctx, func(tx *db.Store) error {
		sess, err := tx.SaveEntity(ctx, TableSessions, db.Entity{
			"user_id": u.ID, "expires_at": expires,
		})
		if err != nil {
			return err
		}
		sid, _ = sess["id"].(string)
		if raw, err = s.newRefreshToken(sid); err != nil {
			return err
		}
		if _, err = tx.SaveEntity(ctx, TableRefresh, db.Entity{
			"session_id": sid, "user_id": u.ID, "token_hash": hashToken(raw),
		}); err != nil {
			return err
		}
		// Cached before the commit: a revocation can only find the
		// session once committed, so its "ended" always lands after this.
		s.sessions.Put(sid, sessionState{userID: u.ID, expires: expires, live: true})
		return nil
	})
	if err != nil {
		if sid != "" {
			s.sessions.Forget(sid)
		}
		return "", "", fmt.Errorf("auth: start session: %w", err)
	}
	return sid, raw, nil
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
	id, ok := s.openRefresh(raw)
	if !ok {
		return nil, ErrInvalidToken
	}
	sid := id.String()
	u, err := s.sessionUser(ctx, sid)
	if err != nil {
		return nil, err
	}
	next := s.successorOf(id, raw)
	spentHash := hashToken(raw)
	// One INSERT is the whole rotation: the successor row names its
	// predecessor in rotated_from (unique), so a token is spent exactly
	// when its successor exists, and the successor's created_at is when it
	// was spent.
	_, err = s.store.SaveEntity(ctx, TableRefresh, db.Entity{
		"session_id": sid, "user_id": u.ID, "token_hash": hashToken(next), "rotated_from": spentHash,
	})
	if err == nil {
		return s.tokens(u, sid, next)
	}
	if !errors.Is(err, db.ErrConflict) {
		return nil, fmt.Errorf("auth: refresh: %w", err)
	}
	// Spent already — by a concurrent refresh of the same token, by a
	// client retrying a lost response, or by someone replaying it.
	rows, err := s.store.FindEntities(ctx, TableRefresh, db.Query{Where: "[rotated_from] = ?", Params: []any{spentHash}, Limit: 1})
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

// sessionUser checks that session sid is live and returns its active user.
// Both come from the identity caches: a revocation or deactivation reaches
// refreshes within IdentityCacheTTL, as it reaches access tokens (and at
// once in the process that made it).
func (s *Service) sessionUser(ctx context.Context, sid string) (User, error) {
	sess, err := s.sessionState(ctx, sid)
	if err != nil {
		return User{}, fmt.Errorf("auth: refresh: %w", err)
	}
	if !sess.liveAt(s.now()) {
		return User{}, ErrInvalidToken
	}
	st, err := s.cachedUser(ctx, sess.userID)
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

// Logout ends the session of a refresh token (POST /auth/logout). An
// unknown or already ended session is not an error.
func (s *Service) Logout(ctx context.Context, refreshToken string) error {
	id, ok := s.openRefresh(refreshToken)
	if !ok {
		return nil
	}
	sess, err := s.sessionState(ctx, id.String())
	if err != nil {
		return fmt.Errorf("auth: logout: %w", err)
	}
	if !sess.live {
		return nil
	}
	return s.revokeSession(ctx, id.String())
}

// LogoutAll ends every session of userID (POST /auth/logout {"all":true}).
func (s *Service) LogoutAll(ctx context.Context, userID string) error {
	return s.revokeSessions(ctx, userID, "")
}

func (s *Service) revokeSession(ctx context.Context, sid string) error {
	if _, err := s.store.SaveEntity(ctx, TableSessions, db.Entity{"id": sid, "revoked_at": s.now()}); err != nil {
		return fmt.Errorf("auth: revoke session: %w", err)
	}
	s.sessions.Forget(sid)
	s.sessions.Put(sid, sessionState{})
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
