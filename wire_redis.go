package appkernel

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/redis/go-redis/v9"

	"appkernel/cache"
	"appkernel/internal/redisguard"
	"appkernel/middleware"
)

// redisNamespace is what every Redis key the kernel writes starts with:
// RedisPrefix, else Name, followed by one ":".
func (c *Config) redisNamespace() string {
	ns := c.RedisPrefix
	if ns == "" {
		ns = c.Name
	}
	if ns == "" {
		ns = "appkernel"
	}
	return strings.TrimSuffix(ns, ":") + ":"
}

// connectRedis connects to cfg.RedisURL and checks that it answers within
// cfg.ConnectTimeout. It is the one place New and RunWorker connect, so
// both refuse a Redis that does not answer with the same message. The
// client has the kernel's circuit breaker (see newRedis); the caller must
// close it.
func (k *Kernel) connectRedis(ctx context.Context) (*redis.Client, error) {
	cfg := k.cfg
	opt, err := redis.ParseURL(cfg.RedisURL)
	if err != nil {
		return nil, fmt.Errorf("%w: REDIS_URL %q: %v", ErrConfig, MaskURL(cfg.RedisURL), err)
	}
	rdb := k.newRedis(opt)
	if err := pingRedis(ctx, rdb, cfg.ConnectTimeout); err != nil {
		_ = rdb.Close()
		return nil, fmt.Errorf("appkernel: Redis (REDIS_URL) at %s does not answer: %w", MaskURL(cfg.RedisURL), err)
	}
	return rdb, nil
}

// wireRedis connects to Redis, when it is configured.
func (k *Kernel) wireRedis(ctx context.Context) error {
	cfg := k.cfg
	if cfg.RedisURL == "" {
		k.feature("redis", "off (REDIS_URL not set)")
		return nil
	}
	rdb, err := k.connectRedis(ctx)
	if err != nil {
		return err
	}
	k.redis = rdb
	k.closers = append(k.closers, rdb.Close)
	k.feature("redis", fmt.Sprintf("on (%s, keys under %q)", MaskURL(cfg.RedisURL), cfg.redisNamespace()))
	return nil
}

// wireCache builds the cache: Redis under the namespace, else in memory.
func (k *Kernel) wireCache(context.Context) error {
	if k.redis != nil {
		k.cache = k.observeCache(cache.NewRedis(k.redis, cache.Prefix(k.cfg.redisNamespace()+"cache:")))
		k.feature("cache", "redis")
		return nil
	}
	k.cache = k.observeCache(cache.NewMemory(cache.MemoryOptions{}))
	k.feature("cache", "memory (REDIS_URL not set)")
	return nil
}

// newRedis builds the kernel's Redis client with a circuit breaker: once a
// command fails for want of a connection, every command fails at once with
// an "unavailable" error (jobs answer 503 jobs_unavailable, rate limiting
// lets requests through, the cache loads from the source) while Redis is
// probed every second in the background; the first answer puts it back in
// use. A dead Redis so costs a request nothing beyond the one command that
// found it gone, and no restart is needed when it returns.
func (k *Kernel) newRedis(opt *redis.Options) *redis.Client {
	redisguard.PrepareOptions(opt)
	rdb := redis.NewClient(opt)
	b := redisguard.Install(rdb, redisguard.Options{Logger: k.log})
	k.instrumentRedis(rdb)
	k.closers = append(k.closers, b.Close)
	routeRedisLog(k.log)
	k.closers = append(k.closers, func() error { unrouteRedisLog(k.log); return nil })
	return rdb
}

// go-redis writes its own messages (a pool that failed to dial, ...) through
// one package-level logger, and has no per-client option for it. The kernel
// sets it once, on first use, to a forwarder that writes each message as a
// WARN line of the most recently built kernel (or RunWorker) that uses
// Redis, so a service's output stays JSON lines. This is the kernel's one
// piece of process-wide state; with several kernels in one process (tests)
// go-redis's messages go to the newest one's logger, and after it closes to
// a JSON logger on stdout.
var (
	redisLogOnce   sync.Once
	redisLogTarget atomic.Pointer[slog.Logger]
)

func routeRedisLog(l *slog.Logger) {
	redisLogTarget.Store(l)
	redisLogOnce.Do(func() { redis.SetLogger(redisLogForwarder{}) })
}

func unrouteRedisLog(l *slog.Logger) { redisLogTarget.CompareAndSwap(l, nil) }

type redisLogForwarder struct{}

func (redisLogForwarder) Printf(ctx context.Context, format string, v ...any) {
	l := redisLogTarget.Load()
	if l == nil {
		l = slog.New(middleware.NewJSONHandler(os.Stdout, nil))
	}
	if ctx == nil {
		ctx = context.Background()
	}
	msg := strings.TrimPrefix(fmt.Sprintf(format, v...), "redis: ")
	l.LogAttrs(ctx, slog.LevelWarn, "go-redis: "+msg)
}
