package middleware

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"sync/atomic"
	"time"

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

	// OnDecision, when set, is told each decision on a counted request:
	// "allowed", "limited", or "unchecked" (Redis failed or is in its
	// outage backoff, and the request went through). The kernel counts them
	// in its metrics. It must be quick. Defaults to nil.
	OnDecision func(decision string)

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
// Window/Limit. The state of every key lives in Redis and is decided there,
// on Redis's clock, by one script, so one budget holds across every process
// sharing the Redis. Requests are not sent one round trip each: while a
// limiter call is on its way, the requests arriving meanwhile wait and go
// together in the next one (one script call decides the whole batch), and
// a key busy on this process takes a small lease of its budget from Redis
// (beyond one token per waiting request, at most 15 spare tokens and fewer
// than Limit/50, at most a quarter of what the key has left, living at most min(Window/100, 100 ms)) and spends it without a
// round trip, so under load the limiter costs a small fraction of a round
// trip per request; a lone request still goes at once. Tokens are counted
// in Redis before they are spent, so the instances together never admit
// more than the budget; a lease's unspent tokens are dropped when it
// expires, which may refuse another instance a few requests early. A key
// with 4 requests or fewer left is decided by Redis one request at a time.
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
		limiter:  newGCRALimiter(opts.Redis, opts.Limit, opts.Window),
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
	limiter  *gcraLimiter
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
		rl.decided("unchecked")
		next.ServeHTTP(w, r)
		return
	}
	key := rl.opts.Key(r)
	if key == "" {
		key = clientIPKey(r)
	}
	res, err := rl.limiter.allow(r.Context(), rl.opts.Prefix+key)
	if err != nil {
		if r.Context().Err() == nil { // a client that went away is not an outage
			rl.redisFailed(r.Context(), err)
		}
		rl.decided("unchecked")
		next.ServeHTTP(w, r)
		return
	}
	h := w.Header()
	h[hdrRateLimitLimit] = []string{rl.limitStr}
	h[hdrRateLimitRemaining] = []string{strconv.Itoa(res.remaining)}
	h[hdrRateLimitReset] = []string{strconv.Itoa(ceilSeconds(res.resetAfter))}
	if res.allowed {
		rl.decided("allowed")
		next.ServeHTTP(w, r)
		return
	}
	rl.decided("limited")
	retry := max(1, ceilSeconds(res.retryAfter))
	h[hdrRetryAfter] = []string{strconv.Itoa(retry)}
	WriteErrorCode(w, r, http.StatusTooManyRequests, "rate_limited",
		fmt.Sprintf("too many requests: retry after %d s", retry))
}

func (rl *rateLimiter) decided(decision string) {
	if rl.opts.OnDecision != nil {
		rl.opts.OnDecision(decision)
	}
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
