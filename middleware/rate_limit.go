package middleware

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/go-redis/redis_rate/v10"
	"github.com/redis/go-redis/v9"
)

// RateLimitOptions configures RateLimit.
type RateLimitOptions struct {
	// Redis holds the limiter's state, shared by every process of the
	// service. Required.
	Redis redis.UniversalClient

	// Limit is the number of requests a key may make per Window, and also
	// the burst it may make at once. Defaults to 100.
	Limit int

	// Window is the period Limit applies to. Defaults to 60s.
	Window time.Duration

	// Key names the bucket a request counts against. Defaults to
	// "ip:<client IP>", the IP the RealIP middleware found (r.RemoteAddr's
	// host without it). The kernel passes one that returns "user:<id>",
	// else "key:<api key id>", else "ip:<ip>". A Key that returns "" falls
	// back to the default.
	Key func(r *http.Request) string

	// Exempt reports requests that are never limited nor counted. Defaults
	// to exempting the paths /healthz and /readyz.
	Exempt func(r *http.Request) bool

	// Logger receives the warning when Redis fails. Defaults to the
	// request's logger (LoggerFrom).
	Logger *slog.Logger

	// Prefix is put before every Redis key the limiter writes. Defaults to
	// "appkernel:rl:".
	Prefix string

	// WarnInterval is the least time between two warnings about a failing
	// Redis; failures in between are counted into the next warning.
	// Defaults to 30s.
	WarnInterval time.Duration

	// OutageBackoff is how long, after Redis fails, requests are allowed
	// without asking Redis at all before it is tried again. It keeps an
	// outage from adding the Redis client's dial and retry time to every
	// request. Defaults to 1s.
	OutageBackoff time.Duration
}

func (o RateLimitOptions) withDefaults() RateLimitOptions {
	if o.Limit == 0 {
		o.Limit = 100
	}
	if o.Window == 0 {
		o.Window = 60 * time.Second
	}
	if o.Key == nil {
		o.Key = clientIPKey
	}
	if o.Exempt == nil {
		o.Exempt = exemptProbes
	}
	if o.Prefix == "" {
		o.Prefix = "appkernel:rl:"
	}
	if o.WarnInterval == 0 {
		o.WarnInterval = 30 * time.Second
	}
	if o.OutageBackoff == 0 {
		o.OutageBackoff = time.Second
	}
	return o
}

func (o RateLimitOptions) validate() error {
	switch {
	case o.Redis == nil:
		return errors.New("middleware: RateLimitOptions.Redis is required: pass a Redis client, or do not install RateLimit without Redis")
	case o.Limit < 0:
		return fmt.Errorf("middleware: RateLimitOptions.Limit is %d: it must be positive (0 means the default, 100)", o.Limit)
	case o.Window < 0:
		return fmt.Errorf("middleware: RateLimitOptions.Window is %s: it must be positive (0 means the default, 60s)", o.Window)
	case o.Window > 0 && o.Window < time.Millisecond:
		return fmt.Errorf("middleware: RateLimitOptions.Window is %s: it must be at least 1ms", o.Window)
	case o.WarnInterval < 0:
		return fmt.Errorf("middleware: RateLimitOptions.WarnInterval is %s: it must not be negative", o.WarnInterval)
	case o.OutageBackoff < 0:
		return fmt.Errorf("middleware: RateLimitOptions.OutageBackoff is %s: it must not be negative", o.OutageBackoff)
	}
	return nil
}

// RateLimit returns middleware that limits each key (by default each client
// IP) to Limit requests per Window with GCRA, a smooth token bucket: a key
// may spend its whole Limit at once, then earns one request back every
// Window/Limit. Each limited request costs one Redis round trip (a script
// run by github.com/go-redis/redis_rate), so the limit holds across every
// process sharing the Redis.
//
// Every counted response carries RateLimit-Limit, RateLimit-Remaining and
// RateLimit-Reset (whole seconds until the key is back to its full Limit). A
// refused request gets 429 with code "rate_limited" and Retry-After (whole
// seconds, at least 1) and does not reach next.
//
// When Redis fails the request is allowed (fail open), without the headers;
// one WARN is logged per WarnInterval, not per request, and Redis is not
// asked again for OutageBackoff.
//
// Install it after RealIP and authentication, so that Key sees the client's
// real address and identity. Invalid options are an error here.
func RateLimit(opts RateLimitOptions) (func(http.Handler) http.Handler, error) {
	if err := opts.validate(); err != nil {
		return nil, err
	}
	opts = opts.withDefaults()
	rl := &rateLimiter{
		opts:     opts,
		limiter:  redis_rate.NewLimiter(unprefixedRate{opts.Redis}),
		limit:    redis_rate.Limit{Rate: opts.Limit, Burst: opts.Limit, Period: opts.Window},
		limitStr: strconv.Itoa(opts.Limit),
	}
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			rl.serve(w, r, next)
		})
	}, nil
}

type rateLimiter struct {
	opts     RateLimitOptions
	limiter  *redis_rate.Limiter
	limit    redis_rate.Limit
	limitStr string

	skipUntil atomic.Int64 // unix ns: Redis is not asked before this time
	lastWarn  atomic.Int64 // unix ns of the last warning, 0 for never
	failures  atomic.Int64 // failed or skipped checks since the last warning
}

// Canonical forms of the header names, for direct map writes.
const (
	hdrRateLimitLimit     = "Ratelimit-Limit"
	hdrRateLimitRemaining = "Ratelimit-Remaining"
	hdrRateLimitReset     = "Ratelimit-Reset"
	hdrRetryAfter         = "Retry-After"
)

func (rl *rateLimiter) serve(w http.ResponseWriter, r *http.Request, next http.Handler) {
	if rl.opts.Exempt(r) {
		next.ServeHTTP(w, r)
		return
	}
	if until := rl.skipUntil.Load(); until != 0 && time.Now().UnixNano() < until {
		rl.failures.Add(1)
		next.ServeHTTP(w, r)
		return
	}
	key := rl.opts.Key(r)
	if key == "" {
		key = clientIPKey(r)
	}
	res, err := rl.limiter.Allow(r.Context(), rl.opts.Prefix+key, rl.limit)
	if err != nil {
		if r.Context().Err() == nil { // a client that went away is not an outage
			rl.redisFailed(r.Context(), err)
		}
		next.ServeHTTP(w, r)
		return
	}
	h := w.Header()
	h[hdrRateLimitLimit] = []string{rl.limitStr}
	h[hdrRateLimitRemaining] = []string{strconv.Itoa(rl.remaining(res))}
	h[hdrRateLimitReset] = []string{strconv.Itoa(ceilSeconds(res.ResetAfter))}
	if res.Allowed > 0 {
		next.ServeHTTP(w, r)
		return
	}
	retry := max(1, ceilSeconds(res.RetryAfter))
	h[hdrRetryAfter] = []string{strconv.Itoa(retry)}
	WriteErrorCode(w, r, http.StatusTooManyRequests, "rate_limited",
		fmt.Sprintf("too many requests: retry after %d s", retry))
}

// redisFailed opens the outage backoff and logs at most one warning per
// WarnInterval, however many requests fail.
func (rl *rateLimiter) redisFailed(ctx context.Context, err error) {
	now := time.Now().UnixNano()
	rl.skipUntil.Store(now + int64(rl.opts.OutageBackoff))
	rl.failures.Add(1)
	last := rl.lastWarn.Load()
	if last != 0 && now-last < int64(rl.opts.WarnInterval) {
		return
	}
	if !rl.lastWarn.CompareAndSwap(last, now) {
		return // another request is logging this interval's warning
	}
	logger := rl.opts.Logger
	if logger == nil {
		logger = LoggerFrom(ctx)
	}
	logger.LogAttrs(ctx, slog.LevelWarn, "rate limit: Redis failed, allowing requests without limit",
		slog.String("error", err.Error()),
		slog.Int64("unlimited_requests", rl.failures.Swap(0)),
		slog.Int64("next_warning_after_ms", rl.opts.WarnInterval.Milliseconds()))
}

// remaining is the number of requests the key could make now. redis_rate
// truncates a float quotient that is often a hair under the integer (59.4 s
// / 0.6 s = 98.999…), which would announce one request too few; it is
// recomputed here from the time until the bucket is full, with a tolerance.
func (rl *rateLimiter) remaining(res *redis_rate.Result) int {
	if res.Allowed == 0 {
		return 0
	}
	interval := rl.opts.Window.Seconds() / float64(rl.opts.Limit)
	n := int(math.Floor((rl.opts.Window.Seconds()-res.ResetAfter.Seconds())/interval + 1e-6))
	return min(max(n, 0), rl.opts.Limit)
}

func ceilSeconds(d time.Duration) int {
	if d <= 0 {
		return 0
	}
	return int((d + time.Second - 1) / time.Second)
}

// clientIPKey is the default Key: "ip:" and the client IP.
func clientIPKey(r *http.Request) string {
	if ip, ok := ClientIPFrom(r.Context()); ok {
		return "ip:" + ip
	}
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr // RealIP rewrites it to a bare IP
	}
	return "ip:" + host
}

func exemptProbes(r *http.Request) bool {
	return r.URL.Path == "/healthz" || r.URL.Path == "/readyz"
}

// redisRatePrefix is the prefix redis_rate puts before every key.
const redisRatePrefix = "rate:"

// unprefixedRate hands redis_rate the client with its fixed "rate:" key
// prefix removed, so the limiter's keys begin with RateLimitOptions.Prefix
// like every other key the kernel writes.
type unprefixedRate struct{ redis.UniversalClient }

func stripRatePrefix(keys []string) []string {
	for i, k := range keys {
		keys[i] = strings.TrimPrefix(k, redisRatePrefix)
	}
	return keys
}

func (c unprefixedRate) Eval(ctx context.Context, script string, keys []string, args ...any) *redis.Cmd {
	return c.UniversalClient.Eval(ctx, script, stripRatePrefix(keys), args...)
}

func (c unprefixedRate) EvalSha(ctx context.Context, sha1 string, keys []string, args ...any) *redis.Cmd {
	return c.UniversalClient.EvalSha(ctx, sha1, stripRatePrefix(keys), args...)
}

func (c unprefixedRate) EvalRO(ctx context.Context, script string, keys []string, args ...any) *redis.Cmd {
	return c.UniversalClient.EvalRO(ctx, script, stripRatePrefix(keys), args...)
}

func (c unprefixedRate) EvalShaRO(ctx context.Context, sha1 string, keys []string, args ...any) *redis.Cmd {
	return c.UniversalClient.EvalShaRO(ctx, sha1, stripRatePrefix(keys), args...)
}

func (c unprefixedRate) Del(ctx context.Context, keys ...string) *redis.IntCmd {
	return c.UniversalClient.Del(ctx, stripRatePrefix(keys)...)
}
