package auth

import (
	"context"
	"log/slog"
	"sync"
	"time"
)

// Defaults of fallbackThrottler.
const (
	throttleWarnInterval = 30 * time.Second
	throttleRedisBackoff = time.Second
	// throttleRedisTimeout bounds one Redis call of the throttle: a down
	// Redis costs the client's dial retries (about 1.7 s) otherwise.
	throttleRedisTimeout = 500 * time.Millisecond
)

// fallbackThrottler uses Redis and, while Redis fails, this process's
// memory, so that logins keep working through an outage. After a failure
// Redis is left alone for backoff (an outage must not add the client's
// dial and retry time to every login), then tried again: once it answers,
// every new attempt goes to Redis again. The failures counted in memory
// during the outage are not carried over.
type fallbackThrottler struct {
	redis *redisThrottler
	local *memoryThrottler
	log   *slog.Logger
	now   func() time.Time

	warnEvery time.Duration // least time between two warnings
	backoff   time.Duration // how long Redis is not asked after it failed
	timeout   time.Duration // bound of one Redis call

	mu        sync.Mutex
	skipUntil time.Time // Redis is not asked before this time
	down      bool      // the last Redis call failed
	lastWarn  time.Time // zero: never warned
	fallbacks int64     // attempts counted in memory since the last warning
}

func newFallbackThrottler(r *redisThrottler, log *slog.Logger, now func() time.Time) *fallbackThrottler {
	return &fallbackThrottler{
		redis: r, local: newMemoryThrottler(now), log: log, now: now,
		warnEvery: throttleWarnInterval, backoff: throttleRedisBackoff, timeout: throttleRedisTimeout,
	}
}

func (f *fallbackThrottler) reserve(ctx context.Context, c client) (attempt, error) {
	if f.useRedis() {
		rctx, cancel := context.WithTimeout(ctx, f.timeout)
		a, err := f.redis.reserve(rctx, c)
		cancel()
		if err == nil || asThrottle(err) != nil {
			f.redisAnswered(ctx)
			return a, err
		}
		if ctx.Err() != nil { // the client went away: not an outage
			return a, err
		}
		f.redisFailed(ctx, err)
	} else {
		f.mu.Lock()
		f.fallbacks++
		f.mu.Unlock()
	}
	a, err := f.local.reserve(ctx, c)
	a.local = true
	return a, err
}

func (f *fallbackThrottler) succeeded(ctx context.Context, a attempt) error {
	if a.local {
		return f.local.succeeded(ctx, a)
	}
	ctx, cancel := context.WithTimeout(ctx, f.timeout)
	defer cancel()
	return f.redis.succeeded(ctx, a)
}

func (f *fallbackThrottler) useRedis() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return !f.now().Before(f.skipUntil)
}

// redisFailed starts a backoff and logs at most one warning per
// warnEvery, however many logins fall back.
func (f *fallbackThrottler) redisFailed(ctx context.Context, err error) {
	f.mu.Lock()
	now := f.now()
	f.skipUntil = now.Add(f.backoff)
	f.down = true
	f.fallbacks++
	if !f.lastWarn.IsZero() && now.Sub(f.lastWarn) < f.warnEvery {
		f.mu.Unlock()
		return
	}
	f.lastWarn = now
	n := f.fallbacks
	f.fallbacks = 0
	f.mu.Unlock()
	f.log.LogAttrs(ctx, slog.LevelWarn, "login throttle: Redis failed, counting login failures in this process until it answers",
		slog.String("error", err.Error()),
		slog.Int64("attempts_in_process", n),
		slog.Int64("next_warning_after_ms", f.warnEvery.Milliseconds()))
}

// redisAnswered logs once when Redis answers after an outage.
func (f *fallbackThrottler) redisAnswered(ctx context.Context) {
	f.mu.Lock()
	was := f.down
	f.down = false
	f.mu.Unlock()
	if was {
		f.log.LogAttrs(ctx, slog.LevelInfo, "login throttle: Redis answers again, counting login failures in Redis")
	}
}
