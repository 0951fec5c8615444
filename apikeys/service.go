package apikeys

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"appkernel/auth"
	"appkernel/db"
	"appkernel/internal/ttlcache"
	"appkernel/workspaces"
)

// MaxCacheTTL bounds Config.CacheTTL: a revoked or expired key stops
// working on every instance within it, with or without Redis.
const MaxCacheTTL = 60 * time.Second

// WorkspaceRoles answers a user's role in a workspace; *workspaces.Service
// implements it.
type WorkspaceRoles interface {
	// Role returns the role of userID in workspaceID, or an error (for
	// workspaces, one rendering 404) when userID is not a member.
	Role(ctx context.Context, workspaceID, userID string) (string, error)
}

// Config configures a Service. Store is required; every other field
// documents its default.
type Config struct {
	// Store holds the keys (table api_keys). Required.
	Store *db.Store
	// Redis, when set, carries revocations to every instance at once (a
	// pub/sub channel). Defaults to nil: other instances see a revocation
	// within CacheTTL.
	Redis redis.UniversalClient
	// Prefix prefixes the package's Redis channel. Defaults to
	// "appkernel:apikeys:".
	Prefix string
	// Workspaces checks that the creator of a key bound to a workspace is
	// its owner or an admin. Defaults to nil: keys cannot be bound to a
	// workspace.
	Workspaces WorkspaceRoles
	// Logger receives the package's log lines (never a key or hash).
	// Defaults to slog.Default().
	Logger *slog.Logger
	// CacheTTL is how long a looked-up key (found, revoked or unknown) is
	// remembered. At most MaxCacheTTL. Defaults to 30 seconds.
	CacheTTL time.Duration
	// LastUsedInterval is the least time between two writes of one key's
	// last_used_at. Defaults to one minute.
	LastUsedInterval time.Duration
	// Now is the clock. Defaults to time.Now.
	Now func() time.Time
}

func (c Config) withDefaults() Config {
	if c.Prefix == "" {
		c.Prefix = "appkernel:apikeys:"
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.CacheTTL == 0 {
		c.CacheTTL = 30 * time.Second
	}
	if c.LastUsedInterval == 0 {
		c.LastUsedInterval = time.Minute
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	return c
}

// ErrConfig is wrapped by every error New returns for a bad Config.
var ErrConfig = errors.New("apikeys: invalid configuration")

func (c Config) validate() error {
	var errs []error
	if c.Store == nil {
		errs = append(errs, fmt.Errorf("%w: Store is nil; pass the *db.Store that holds the keys", ErrConfig))
	}
	if c.CacheTTL < 0 || c.CacheTTL > MaxCacheTTL {
		errs = append(errs, fmt.Errorf("%w: CacheTTL is %s; want a positive duration of at most %s", ErrConfig, c.CacheTTL, MaxCacheTTL))
	}
	if c.LastUsedInterval < 0 {
		errs = append(errs, fmt.Errorf("%w: LastUsedInterval is %s; want a positive duration", ErrConfig, c.LastUsedInterval))
	}
	return errors.Join(errs...)
}

// Service is the API-key feature of a running server: the auth.KeyVerifier
// for auth.Service.SetKeyVerifier, the key store's cache, and the
// /auth/api-keys routes. Build it with New; the caller must call Close.
// It is safe for concurrent use.
type Service struct {
	cfg   Config
	store *db.Store
	log   *slog.Logger
	cache *ttlcache.Cache[record]
	used  *lastUsed

	stop    context.CancelFunc
	wg      sync.WaitGroup
	pubsub  *redis.PubSub
	closeMu sync.Once
}

var _ auth.KeyVerifier = (*Service)(nil)

// New checks cfg, declares the table (Init), subscribes to revocations
// when Redis is set, and starts the last-used writer.
func New(ctx context.Context, cfg Config) (*Service, error) {
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	if err := Init(ctx, cfg.Store); err != nil {
		return nil, err
	}
	s := &Service{
		cfg:   cfg,
		store: cfg.Store,
		log:   cfg.Logger.With("component", "apikeys"),
		cache: ttlcache.New[record](cfg.CacheTTL, cfg.Now, cacheLimit),
	}
	runCtx, stop := context.WithCancel(context.WithoutCancel(ctx))
	s.stop = stop
	s.used = newLastUsed(cfg.Store, cfg.LastUsedInterval, cfg.Now, s.log)
	s.wg.Add(1)
	go func() { defer s.wg.Done(); s.used.run(runCtx) }()
	if cfg.Redis != nil {
		s.subscribe(ctx, runCtx)
	}
	return s, nil
}

// Close stops the revocation subscriber and the last-used writer (writing
// what it holds). It is safe to call more than once.
func (s *Service) Close() error {
	s.closeMu.Do(func() {
		s.stop()
		if s.pubsub != nil {
			_ = s.pubsub.Close()
		}
		s.wg.Wait()
	})
	return nil
}

// channel is the Redis pub/sub channel of revocations: each message is the
// hash of a revoked key.
func (s *Service) channel() string { return s.cfg.Prefix + "revoked" }

// subscribe listens for revocations made by other instances. Redis down
// at start or later degrades to the CacheTTL bound; go-redis resubscribes
// when it returns.
func (s *Service) subscribe(ctx, runCtx context.Context) {
	ps := s.cfg.Redis.Subscribe(runCtx, s.channel())
	s.pubsub = ps
	wctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	if _, err := ps.Receive(wctx); err != nil {
		s.log.Warn("apikeys: cannot subscribe to revocations; other instances' revocations reach this one within the cache TTL", "err", err, "cache_ttl", s.cfg.CacheTTL.String())
	}
	ch := ps.Channel()
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		for m := range ch {
			s.cache.Forget(m.Payload)
		}
	}()
}

// Create is the package's Create, and also checks that a key bound to a
// workspace is made by its owner or an admin (ErrWorkspaceRole, or the
// workspaces error when the creator is not a member).
func (s *Service) Create(ctx context.Context, p Params) (Created, error) {
	if p.WorkspaceID != "" {
		if s.cfg.Workspaces == nil {
			return Created{}, invalid("workspace_id: this service has no workspaces")
		}
		if _, err := p.check(); err != nil {
			return Created{}, err
		}
		role, err := s.cfg.Workspaces.Role(ctx, p.WorkspaceID, p.UserID)
		if err != nil {
			return Created{}, err
		}
		if !workspaces.AtLeast(role, workspaces.RoleAdmin) {
			return Created{}, ErrWorkspaceRole
		}
	}
	return create(ctx, s.store, p, s.cfg.Now())
}

// List is the package's List.
func (s *Service) List(ctx context.Context, userID string) ([]Key, error) {
	return List(ctx, s.store, userID)
}

// Revoke is the package's Revoke; the key stops working at once on this
// instance and, through Redis, on the others (without Redis within
// CacheTTL).
func (s *Service) Revoke(ctx context.Context, userID, id string) error {
	hash, err := revoke(ctx, s.store, userID, id, s.cfg.Now())
	if err != nil {
		return err
	}
	s.cache.Forget(hash)
	if s.cfg.Redis != nil {
		if err := s.cfg.Redis.Publish(ctx, s.channel(), hash).Err(); err != nil {
			s.log.Warn("apikeys: cannot publish a revocation; other instances stop accepting the key within the cache TTL", "err", err, "cache_ttl", s.cfg.CacheTTL.String())
		}
	}
	return nil
}

// VerifyKey implements auth.KeyVerifier: a malformed key (WellFormed) is
// refused without a lookup; otherwise the key's record, cached for
// CacheTTL, must exist, be unrevoked and unexpired. Its use is noted for
// last_used_at off the request path. Errors wrap auth.ErrInvalidToken.
func (s *Service) VerifyKey(ctx context.Context, key string) (auth.Principal, error) {
	if !WellFormed(key) {
		return auth.Principal{}, fmt.Errorf("%w: malformed API key", auth.ErrInvalidToken)
	}
	hash := hashKey(key)
	rec, err := s.cache.Get(ctx, hash, func(ctx context.Context) (record, error) { return s.load(ctx, hash) })
	if err != nil {
		return auth.Principal{}, err
	}
	now := s.cfg.Now()
	switch {
	case rec.id == "":
		return auth.Principal{}, fmt.Errorf("%w: unknown API key", auth.ErrInvalidToken)
	case rec.revoked:
		return auth.Principal{}, fmt.Errorf("%w: API key revoked", auth.ErrInvalidToken)
	case !rec.expires.IsZero() && !now.Before(rec.expires):
		return auth.Principal{}, fmt.Errorf("%w: API key expired", auth.ErrInvalidToken)
	}
	s.used.note(rec.id, now)
	return auth.Principal{
		Type:           auth.PrincipalAPIKey,
		UserID:         rec.userID,
		Scopes:         rec.scopes,
		KeyID:          rec.id,
		KeyWorkspaceID: rec.workspaceID,
	}, nil
}

// load reads the record of the key whose hash is hash; an unknown key is
// the zero record (cached too, so repeating a made-up key costs no lookup).
func (s *Service) load(ctx context.Context, hash string) (record, error) {
	es, err := s.store.FindEntities(ctx, Table, db.Query{Where: "[key_hash] = ?", Params: []any{hash}, Limit: 1})
	if err != nil && !errors.Is(err, db.ErrNotFound) {
		return record{}, fmt.Errorf("apikeys: look up key: %w", err)
	}
	if len(es) == 0 {
		return record{}, nil
	}
	k := keyFrom(es[0])
	rec := record{id: k.ID, userID: k.UserID, workspaceID: k.WorkspaceID, scopes: k.Scopes, revoked: k.RevokedAt != nil}
	if k.ExpiresAt != nil {
		rec.expires = *k.ExpiresAt
	}
	return rec, nil
}
