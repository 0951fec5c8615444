package auth

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"fmt"
	"log/slog"
	"time"

	"appkernel/db"
	"appkernel/internal/ttlcache"
)

// Tables of the package. History is off for the three that hold secrets
// or churn; users keep history (they never hold a hash).
const (
	TableUsers     = "users"
	TablePasswords = "user_passwords"
	TableSessions  = "auth_sessions"
	TableRefresh   = "refresh_tokens"
)

// identityCacheLimit bounds each identity cache (entries).
const identityCacheLimit = 100_000

// WorkspaceHooks is implemented by *workspaces.Service. auth calls it to
// give every new user a personal workspace, to accept invites at
// registration, and to check X-Workspace-ID.
type WorkspaceHooks interface {
	// CreatePersonal creates the personal workspace of the new user u
	// (owner) inside tx and returns its id.
	CreatePersonal(ctx context.Context, tx *db.Store, u User) (string, error)
	// AcceptInvite consumes the invite token inside tx, making u a member
	// with the invited role, and returns the workspace id. An unknown,
	// spent or expired token, or one issued to another email, is an error
	// wrapping ErrInvalidInvite.
	AcceptInvite(ctx context.Context, tx *db.Store, token string, u User) (string, error)
	// CheckInvite reports whether token is an open invite for email,
	// without consuming it: nil, or an error wrapping ErrInvalidInvite.
	// Register calls it before hashing the password, so a made-up invite
	// costs a read, not a hash; it must read the same rows whether or not
	// an account has email.
	CheckInvite(ctx context.Context, token, email string) error
	// IsMember reports whether userID is a member of workspaceID.
	IsMember(ctx context.Context, workspaceID, userID string) (bool, error)
	// MemberWorkspaces returns the ids of the workspaces userID is a
	// member of, at most limit of them (in any order). Authentication
	// caches them per user, so a request naming a workspace in
	// X-Workspace-ID costs no statement, also when it names made-up ids.
	MemberWorkspaces(ctx context.Context, userID string, limit int) ([]string, error)
}

// Service is the auth feature: accounts, passwords, sessions and tokens.
// Build it with New; it is safe for concurrent use.
type Service struct {
	cfg      Config
	store    *db.Store
	log      *slog.Logger
	hasher   *hasher
	signer   *tokenSigner
	throttle throttler
	devices  devices
	perIP    *ipLimiter
	// successorKey derives a refresh token's successor from the token, so
	// that a retry within the grace window gets the same successor back.
	successorKey []byte
	// refreshTagKey authenticates refresh tokens (see session.go).
	refreshTagKey []byte

	verified *ttlcache.Cache[*AccessClaims]
	users    *ttlcache.Cache[userState]
	sessions *ttlcache.Cache[sessionState]
	members  *ttlcache.Cache[memberSet]

	// keys checks API keys (SetKeyVerifier); nil refuses them.
	keys KeyVerifier
}

// userState is a cached user: ok is false when the user is gone or inactive.
type userState struct {
	u  User
	ok bool
}

// New checks cfg, declares the package's indexes and returns the Service.
func New(ctx context.Context, cfg Config) (*Service, error) {
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	h, err := newHasher(cfg.Argon2, cfg.MaxConcurrentHashes)
	if err != nil {
		return nil, fmt.Errorf("auth: %w", err)
	}
	derive := func(label string) []byte {
		mac := hmac.New(sha256.New, cfg.Secret)
		mac.Write([]byte(label))
		return mac.Sum(nil)
	}
	s := &Service{
		cfg:    cfg,
		store:  cfg.Store,
		log:    cfg.Logger.With("component", "auth"),
		hasher: h,
		signer: newTokenSigner(cfg.Secret, cfg.Issuer, cfg.AccessTTL),
		// The issuer is in the keys: two services sharing a secret and a
		// database cannot use each other's refresh tokens, as they cannot
		// use each other's access tokens.
		successorKey:  derive("appkernel/auth refresh successor v2\x00" + cfg.Issuer),
		refreshTagKey: derive("appkernel/auth refresh tag v2\x00" + cfg.Issuer),
		verified:      ttlcache.New[*AccessClaims](cfg.IdentityCacheTTL, cfg.Now, identityCacheLimit),
		users:         ttlcache.New[userState](cfg.IdentityCacheTTL, cfg.Now, identityCacheLimit),
		sessions:      ttlcache.New[sessionState](cfg.IdentityCacheTTL, cfg.Now, identityCacheLimit),
		members:       ttlcache.New[memberSet](min(cfg.IdentityCacheTTL, MembershipCacheTTL), cfg.Now, identityCacheLimit),
		devices:       devices{key: derive("appkernel/auth device v1\x00" + cfg.Issuer), now: cfg.Now},
		perIP:         newIPLimiter(cfg.PerIPLimit, cfg.PerIPWindow, cfg.Now),
	}
	if cfg.Redis != nil {
		s.throttle = newFallbackThrottler(&redisThrottler{rdb: cfg.Redis, prefix: cfg.RedisPrefix, now: cfg.Now}, s.log, cfg.Now)
	} else {
		s.throttle = newMemoryThrottler(cfg.Now)
	}
	if err := s.init(ctx); err != nil {
		return nil, err
	}
	return s, nil
}

// init declares the unique indexes the package's rules rest on and turns
// history off where it would keep secrets.
func (s *Service) init(ctx context.Context) error {
	s.store.DisableHistory(TablePasswords, TableSessions, TableRefresh)
	// Columns exist, typed, before indexing them and before the first
	// transaction (MySQL cannot create them inside one).
	columns := map[string]db.Entity{
		TableUsers:     {"email": "", "role": "", "is_active": true, "workspace_id": "", "first_admin": int64(0)},
		TablePasswords: {"user_id": "", "hash": ""},
		TableSessions:  {"user_id": "", "expires_at": "", "revoked_at": ""},
		TableRefresh:   {"session_id": "", "user_id": "", "token_hash": "", "rotated_from": ""},
	}
	for _, table := range []string{TableUsers, TablePasswords, TableSessions, TableRefresh} {
		if err := s.store.EnsureColumns(ctx, table, columns[table]); err != nil {
			return fmt.Errorf("auth: columns of %s: %w", table, err)
		}
	}
	indexes := []struct {
		table  string
		cols   []string
		unique bool
	}{
		{TableUsers, []string{"email"}, true},       // one account per email, under concurrency
		{TableUsers, []string{"first_admin"}, true}, // exactly one bootstrap admin
		{TablePasswords, []string{"user_id"}, true},
		// One rotation per refresh token. Nothing reads refresh_tokens by
		// token_hash or session_id (a token names its session), so no other
		// index slows the rotation INSERT down.
		{TableRefresh, []string{"rotated_from"}, true},
		{TableSessions, []string{"user_id"}, false},
	}
	for _, ix := range indexes {
		if err := s.store.EnsureIndex(ctx, ix.table, ix.cols, ix.unique); err != nil {
			return fmt.Errorf("auth: index %s%v: %w", ix.table, ix.cols, err)
		}
	}
	return nil
}

func (s *Service) now() time.Time { return s.cfg.Now().UTC() }
