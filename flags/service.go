package flags

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"appkernel/db"
)

// Defaults of Config.
const (
	// DefaultTTL is how old a Service's flags may get without Redis, or
	// while its Redis subscription is down.
	DefaultTTL = 5 * time.Second
	// DefaultResync is how often a Service subscribed to Redis reloads its
	// flags anyway, to see changes written without a Service (the
	// package's Set and Delete).
	DefaultResync = time.Minute
)

// Config configures a Service.
type Config struct {
	// Store is the entity store holding the flags table. Required.
	Store *db.Store
	// Redis carries change notices between the instances of a service:
	// Service.Set and Service.Delete publish on the channel Prefix+"flags"
	// and every Service subscribed to it reloads at once. Optional:
	// without it (and while it is unreachable) a Service reloads every
	// TTL.
	Redis redis.UniversalClient
	// Prefix is the service's Redis namespace, such as "myapp:"; the
	// channel is Prefix+"flags". Defaults to "appkernel:". The kernel
	// passes its namespace (REDIS_PREFIX, else the service name).
	Prefix string
	// TTL is how old the in-memory flags may get when no Redis
	// subscription tells of changes. Defaults to DefaultTTL (5 s).
	TTL time.Duration
	// Resync is how often a Service subscribed to Redis reloads anyway.
	// Defaults to DefaultResync (1 min).
	Resync time.Duration
	// Logger receives a line when the Redis subscription is lost or comes
	// back, and when a reload fails. Defaults to a logger that discards.
	Logger *slog.Logger
}

func (c Config) withDefaults() Config {
	if c.Prefix == "" {
		c.Prefix = "appkernel:"
	}
	if c.TTL == 0 {
		c.TTL = DefaultTTL
	}
	if c.Resync == 0 {
		c.Resync = DefaultResync
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	return c
}

func (c Config) validate() error {
	switch {
	case c.Store == nil:
		return errors.New("flags: Config.Store is required: pass the kernel's *db.Store")
	case c.TTL < 0:
		return fmt.Errorf("flags: Config.TTL is %s: use a positive duration, or 0 for the default of %s", c.TTL, DefaultTTL)
	case c.Resync < 0:
		return fmt.Errorf("flags: Config.Resync is %s: use a positive duration, or 0 for the default of %s", c.Resync, DefaultResync)
	}
	return nil
}

// Service evaluates flags in memory. It loads every flag of its store
// when built and reloads them when they change: at once on a notice from
// Redis (Config.Redis), else within Config.TTL. Its Enabled does no I/O.
//
// The package's functions Set, Get, List, Delete and Enabled work on a
// store directly, for scripts and tools; the Service's methods of the same
// names are the ones a service uses: Set and Delete also refresh this
// Service and notify the others, and Enabled reads memory instead of the
// database. Build it with New; the caller must call Close.
type Service struct {
	cfg     Config
	store   *db.Store
	rdb     redis.UniversalClient
	channel string
	log     *slog.Logger

	snap       atomic.Pointer[snapshot]
	loadMu     sync.Mutex // orders reloads so an older read never replaces a newer one
	loadedAt   atomic.Int64
	subscribed atomic.Bool

	stop      context.CancelFunc
	closed    chan struct{}
	wg        sync.WaitGroup
	subMu     sync.Mutex
	sub       *redis.PubSub // the live subscription, closed by Close
	closeOnce sync.Once
}

// New creates the flags table if needed, loads every flag and starts the
// refresh (a Redis subscription when Config.Redis is set, and a reload
// every TTL while there is none). The caller must call Close.
func New(ctx context.Context, cfg Config) (*Service, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	s := &Service{cfg: cfg, store: cfg.Store, rdb: cfg.Redis, channel: cfg.Prefix + "flags", log: cfg.Logger,
		closed: make(chan struct{})}
	if err := Init(ctx, s.store); err != nil {
		return nil, err
	}
	if err := s.reload(ctx); err != nil {
		return nil, err
	}
	bg, stop := context.WithCancel(context.WithoutCancel(ctx))
	s.stop = stop
	s.wg.Add(1)
	go s.poll(bg)
	if s.rdb != nil {
		s.wg.Add(1)
		go s.listen(bg)
	}
	return s, nil
}

// Close stops the refresh. Enabled keeps answering from the last flags
// loaded. It is safe to call more than once.
func (s *Service) Close() error {
	s.closeOnce.Do(func() {
		close(s.closed)
		s.stop()
		s.subMu.Lock()
		if s.sub != nil {
			_ = s.sub.Close()
		}
		s.subMu.Unlock()
		s.wg.Wait()
	})
	return nil
}

// Enabled reports whether the flag name is on for f, from memory: an
// unknown flag is false, and so is every flag of a nil Service (a kernel
// without a database). It does no I/O and does not allocate (for ids of
// up to about 90 bytes).
func (s *Service) Enabled(name string, f For) bool {
	if s == nil {
		return false
	}
	return s.snap.Load().flags[name].evaluate(name, f)
}

// Evaluate returns every flag evaluated for f, by name: what GET /flags
// answers.
func (s *Service) Evaluate(f For) map[string]bool {
	if s == nil {
		return map[string]bool{}
	}
	snap := s.snap.Load()
	out := make(map[string]bool, len(snap.list))
	for _, fl := range snap.list {
		out[fl.Name] = snap.flags[fl.Name].evaluate(fl.Name, f)
	}
	return out
}

// Set creates or replaces the flag name (see the package's Set), then
// reloads this Service, so that its Enabled sees the change when Set
// returns, and notifies the other Services on the same Redis.
func (s *Service) Set(ctx context.Context, name string, f Flag) error {
	f, err := normalize(name, f)
	if err != nil {
		return err
	}
	if err := set(ctx, s.store, f); err != nil {
		return err
	}
	return s.changed(ctx, name)
}

// Delete removes the flag name (see the package's Delete), then reloads
// and notifies as Set does.
func (s *Service) Delete(ctx context.Context, name string) error {
	if err := Delete(ctx, s.store, name); err != nil {
		return err
	}
	return s.changed(ctx, name)
}

// Get returns the flag name as stored, or an error matching ErrNotFound.
func (s *Service) Get(ctx context.Context, name string) (Flag, error) {
	return Get(ctx, s.store, name)
}

// List returns every flag as stored, sorted by name.
func (s *Service) List(ctx context.Context) ([]Flag, error) {
	return List(ctx, s.store)
}

// Refresh reloads every flag from the store now.
func (s *Service) Refresh(ctx context.Context) error { return s.reload(ctx) }

// changed reloads after a write of name and publishes it. A failed
// publish is logged, not returned: the write is done, and the other
// instances see it within their TTL when Redis is down (their
// subscription is down too) or within Resync otherwise.
func (s *Service) changed(ctx context.Context, name string) error {
	if err := s.reload(ctx); err != nil {
		return err
	}
	if s.rdb != nil {
		if err := s.rdb.Publish(ctx, s.channel, name).Err(); err != nil {
			s.log.WarnContext(ctx, "flags: change of "+name+" not published to Redis; other instances see it at their next reload", "error", err.Error())
		}
	}
	return nil
}

// reload reads every flag and replaces the in-memory ones.
func (s *Service) reload(ctx context.Context) error {
	s.loadMu.Lock()
	defer s.loadMu.Unlock()
	list, err := List(ctx, s.store)
	if err != nil {
		return err
	}
	s.snap.Store(newSnapshot(list))
	s.loadedAt.Store(time.Now().UnixNano())
	return nil
}

func (s *Service) reloadLogged(ctx context.Context) {
	if err := s.reload(ctx); err != nil && ctx.Err() == nil {
		s.log.WarnContext(ctx, "flags: reload failed; keeping the flags loaded before", "error", err.Error())
	}
}

// poll reloads every TTL while no Redis subscription is live, and every
// Resync while one is.
func (s *Service) poll(ctx context.Context) {
	defer s.wg.Done()
	t := time.NewTicker(s.cfg.TTL)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		age := time.Duration(time.Now().UnixNano() - s.loadedAt.Load())
		if s.subscribed.Load() && age < s.cfg.Resync {
			continue
		}
		s.reloadLogged(ctx)
	}
}
