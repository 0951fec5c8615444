package middleware_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"appkernel/internal/testenv"
	"appkernel/middleware"
)

// rateLimitRedis connects to the test Redis (or skips) and returns a key
// prefix no other test uses; the keys under it are deleted when t ends.
func rateLimitRedis(t testing.TB) (*redis.Client, string) {
	t.Helper()
	opts, err := redis.ParseURL(testenv.RedisURL(t))
	if err != nil {
		t.Fatalf("parse %s: %v", testenv.RedisVar, err)
	}
	rdb := redis.NewClient(opts)
	if err := rdb.Ping(context.Background()).Err(); err != nil {
		t.Fatalf("ping test Redis: %v", err)
	}
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	prefix := "appkernel:test:rl:" + hex.EncodeToString(b) + ":"
	t.Cleanup(func() {
		ctx := context.Background()
		iter := rdb.Scan(ctx, 0, prefix+"*", 1000).Iterator()
		for iter.Next(ctx) {
			rdb.Del(ctx, iter.Val())
		}
		_ = rdb.Close()
	})
	return rdb, prefix
}

// deadRedis is a client pointed at a closed port, failing fast.
func rlDeadRedis(t testing.TB) *redis.Client {
	rdb := redis.NewClient(&redis.Options{
		Addr: "127.0.0.1:1", MaxRetries: -1, DialerRetries: 1, DialTimeout: 200 * time.Millisecond,
	})
	t.Cleanup(func() { _ = rdb.Close() })
	return rdb
}

// rlWarnCounter is a slog.Handler that counts WARN records.
type rlWarnCounter struct {
	warns atomic.Int32
	mu    sync.Mutex
	attrs []map[string]slog.Value
}

func (h *rlWarnCounter) Enabled(context.Context, slog.Level) bool { return true }
func (h *rlWarnCounter) WithAttrs([]slog.Attr) slog.Handler       { return h }
func (h *rlWarnCounter) WithGroup(string) slog.Handler            { return h }
func (h *rlWarnCounter) Handle(_ context.Context, rec slog.Record) error {
	if rec.Level == slog.LevelWarn {
		h.warns.Add(1)
		m := map[string]slog.Value{}
		rec.Attrs(func(a slog.Attr) bool { m[a.Key] = a.Value; return true })
		h.mu.Lock()
		h.attrs = append(h.attrs, m)
		h.mu.Unlock()
	}
	return nil
}

// limited wraps a handler counting the requests that reach it.
func rlLimited(t testing.TB, opts middleware.RateLimitOptions) (http.Handler, *atomic.Int32) {
	t.Helper()
	mw, err := middleware.RateLimit(opts)
	if err != nil {
		t.Fatalf("RateLimit: %v", err)
	}
	var reached atomic.Int32
	return mw(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		reached.Add(1)
		w.WriteHeader(http.StatusNoContent)
	})), &reached
}

func rlDo(h http.Handler, path, remoteAddr string, header ...string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(http.MethodGet, path, nil)
	req.RemoteAddr = remoteAddr
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

func rlHeaderInt(t *testing.T, rec *httptest.ResponseRecorder, name string) int {
	t.Helper()
	v := rec.Header().Get(name)
	n, err := strconv.Atoi(v)
	if err != nil {
		t.Fatalf("%s = %q, want an integer", name, v)
	}
	return n
}

func TestRateLimitAllowsLimitThenRefuses(t *testing.T) {
	t.Parallel()
	rdb, prefix := rateLimitRedis(t)
	h, reached := rlLimited(t, middleware.RateLimitOptions{Redis: rdb, Prefix: prefix})

	for i := range 100 {
		rec := rlDo(h, "/widgets", "203.0.113.7:5555")
		if rec.Code != http.StatusNoContent {
			t.Fatalf("request %d: status %d, want 204", i+1, rec.Code)
		}
		if got := rlHeaderInt(t, rec, "RateLimit-Limit"); got != 100 {
			t.Fatalf("RateLimit-Limit = %d, want 100", got)
		}
		if got := rlHeaderInt(t, rec, "RateLimit-Remaining"); got != 99-i {
			t.Fatalf("request %d: RateLimit-Remaining = %d, want %d", i+1, got, 99-i)
		}
		if reset := rlHeaderInt(t, rec, "RateLimit-Reset"); reset < 1 || reset > 60 {
			t.Fatalf("RateLimit-Reset = %d, want 1..60", reset)
		}
		if rec.Header().Get("Retry-After") != "" {
			t.Fatal("an allowed request carries Retry-After")
		}
	}

	rec := rlDo(h, "/widgets", "203.0.113.7:6666") // same IP, other port
	if rec.Code != http.StatusTooManyRequests {
		t.Fatalf("request 101: status %d, want 429", rec.Code)
	}
	if reached.Load() != 100 {
		t.Fatalf("handler reached %d times, want 100", reached.Load())
	}
	// 100 per 60 s: one request comes back every 0.6 s.
	if got := rec.Header().Get("Retry-After"); got != "1" {
		t.Fatalf("Retry-After = %q, want 1", got)
	}
	if got := rlHeaderInt(t, rec, "RateLimit-Remaining"); got != 0 {
		t.Fatalf("refused RateLimit-Remaining = %d, want 0", got)
	}
	if reset := rlHeaderInt(t, rec, "RateLimit-Reset"); reset < 59 || reset > 60 {
		t.Fatalf("refused RateLimit-Reset = %d, want about 60 (the whole window to refill)", reset)
	}
	var body middleware.ErrorBody
	if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
		t.Fatalf("429 body %q is not the JSON error shape: %v", rec.Body, err)
	}
	if body.Error.Code != "rate_limited" || body.Error.Message == "" {
		t.Fatalf("429 body = %+v, want code rate_limited and a message", body.Error)
	}
	if ct := rec.Header().Get("Content-Type"); ct != "application/json" {
		t.Fatalf("429 Content-Type = %q", ct)
	}

	// The state lives under the configured prefix, not redis_rate's "rate:".
	if n := rdb.Exists(context.Background(), prefix+"ip:203.0.113.7").Val(); n != 1 {
		t.Fatalf("no limiter key %q in Redis", prefix+"ip:203.0.113.7")
	}
}

func TestRateLimitRetryAfterIsTheWait(t *testing.T) {
	t.Parallel()
	rdb, prefix := rateLimitRedis(t)
	// 2 per 10 s: after the burst one request comes back every 5 s.
	h, _ := rlLimited(t, middleware.RateLimitOptions{Redis: rdb, Prefix: prefix, Limit: 2, Window: 10 * time.Second})
	rlDo(h, "/", "198.51.100.1:1")
	rlDo(h, "/", "198.51.100.1:1")
	rec := rlDo(h, "/", "198.51.100.1:1")
	if rec.Code != http.StatusTooManyRequests || rec.Header().Get("Retry-After") != "5" {
		t.Fatalf("status %d, Retry-After %q; want 429 and 5", rec.Code, rec.Header().Get("Retry-After"))
	}

	// 1 per 1 s: waiting Retry-After is enough to be allowed again.
	h, _ = rlLimited(t, middleware.RateLimitOptions{Redis: rdb, Prefix: prefix + "b:", Limit: 1, Window: time.Second})
	rlDo(h, "/", "198.51.100.2:1")
	rec = rlDo(h, "/", "198.51.100.2:1")
	if rec.Code != http.StatusTooManyRequests {
		t.Fatalf("second request: status %d, want 429", rec.Code)
	}
	wait := rlHeaderInt(t, rec, "Retry-After")
	if wait != 1 {
		t.Fatalf("Retry-After = %d, want 1", wait)
	}
	time.Sleep(time.Duration(wait) * time.Second)
	if rec := rlDo(h, "/", "198.51.100.2:1"); rec.Code != http.StatusNoContent {
		t.Fatalf("after waiting Retry-After: status %d, want 204", rec.Code)
	}
}

func TestRateLimitKeysAreIndependent(t *testing.T) {
	t.Parallel()
	rdb, prefix := rateLimitRedis(t)
	h, _ := rlLimited(t, middleware.RateLimitOptions{
		Redis: rdb, Prefix: prefix, Limit: 3,
		Key: func(r *http.Request) string { return r.Header.Get("X-User") },
	})
	for range 3 {
		rlDo(h, "/", "192.0.2.1:1", "X-User", "user:a")
	}
	if rec := rlDo(h, "/", "192.0.2.1:1", "X-User", "user:a"); rec.Code != http.StatusTooManyRequests {
		t.Fatalf("user a after its limit: %d, want 429", rec.Code)
	}
	// Same IP, another user: its own full bucket.
	for i := range 3 {
		rec := rlDo(h, "/", "192.0.2.1:1", "X-User", "user:b")
		if rec.Code != http.StatusNoContent {
			t.Fatalf("user b request %d: %d, want 204", i+1, rec.Code)
		}
	}
	// A Key returning "" falls back to the client IP, a bucket of its own.
	if rec := rlDo(h, "/", "192.0.2.1:1"); rec.Code != http.StatusNoContent {
		t.Fatalf("no user: %d, want 204", rec.Code)
	}
	if rdb.Exists(context.Background(), prefix+"ip:192.0.2.1").Val() != 1 {
		t.Fatal("empty Key did not fall back to the ip: key")
	}
}

func TestRateLimitDefaultKeyIsClientIP(t *testing.T) {
	t.Parallel()
	rdb, prefix := rateLimitRedis(t)
	h, _ := rlLimited(t, middleware.RateLimitOptions{Redis: rdb, Prefix: prefix, Limit: 1})
	if rec := rlDo(h, "/", "192.0.2.10:1000"); rec.Code != http.StatusNoContent {
		t.Fatalf("first: %d", rec.Code)
	}
	if rec := rlDo(h, "/", "192.0.2.10:2000"); rec.Code != http.StatusTooManyRequests {
		t.Fatalf("same IP, new port: %d, want 429 (the port is not part of the key)", rec.Code)
	}
	if rec := rlDo(h, "/", "192.0.2.11:1000"); rec.Code != http.StatusNoContent {
		t.Fatalf("other IP: %d, want 204", rec.Code)
	}

	// Behind RealIP with a trusted proxy, the forwarded client is the key:
	// two clients through one proxy do not share a bucket.
	realIP, err := middleware.RealIP([]string{"10.0.0.0/8"})
	if err != nil {
		t.Fatal(err)
	}
	behind := realIP(h)
	for _, client := range []string{"198.51.100.20", "198.51.100.21"} {
		if rec := rlDo(behind, "/", "10.0.0.1:443", "X-Forwarded-For", client); rec.Code != http.StatusNoContent {
			t.Fatalf("client %s via proxy: %d, want 204", client, rec.Code)
		}
	}
	if rec := rlDo(behind, "/", "10.0.0.1:443", "X-Forwarded-For", "198.51.100.20"); rec.Code != http.StatusTooManyRequests {
		t.Fatalf("client again via proxy: %d, want 429", rec.Code)
	}
}

func TestRateLimitExemptPaths(t *testing.T) {
	t.Parallel()
	rdb, prefix := rateLimitRedis(t)
	h, _ := rlLimited(t, middleware.RateLimitOptions{Redis: rdb, Prefix: prefix, Limit: 1})
	for range 20 {
		for _, p := range []string{"/healthz", "/readyz"} {
			rec := rlDo(h, p, "192.0.2.30:1")
			if rec.Code != http.StatusNoContent {
				t.Fatalf("%s: %d, want 204", p, rec.Code)
			}
			if rec.Header().Get("RateLimit-Limit") != "" {
				t.Fatalf("%s carries rate-limit headers", p)
			}
		}
	}
	// Probes did not spend the bucket.
	if rec := rlDo(h, "/api", "192.0.2.30:1"); rec.Code != http.StatusNoContent {
		t.Fatalf("first counted request: %d, want 204", rec.Code)
	}
	if rec := rlDo(h, "/healthz", "192.0.2.30:1"); rec.Code != http.StatusNoContent {
		t.Fatalf("probe with an exhausted bucket: %d, want 204", rec.Code)
	}

	custom, _ := rlLimited(t, middleware.RateLimitOptions{
		Redis: rdb, Prefix: prefix + "c:", Limit: 1,
		Exempt: func(r *http.Request) bool { return strings.HasPrefix(r.URL.Path, "/static/") },
	})
	for range 5 {
		if rec := rlDo(custom, "/static/app.js", "192.0.2.31:1"); rec.Code != http.StatusNoContent {
			t.Fatalf("custom exempt path: %d", rec.Code)
		}
	}
	rlDo(custom, "/healthz", "192.0.2.31:1")
	if rec := rlDo(custom, "/healthz", "192.0.2.31:1"); rec.Code != http.StatusTooManyRequests {
		t.Fatalf("a custom Exempt replaces the default: /healthz got %d, want 429", rec.Code)
	}
}

func TestRateLimitFailsOpenAndWarnsOnce(t *testing.T) {
	t.Parallel()
	logs := &rlWarnCounter{}
	// OutageBackoff 1ns: every request asks the dead Redis and fails.
	h, reached := rlLimited(t, middleware.RateLimitOptions{
		Redis: rlDeadRedis(t), Limit: 1, Logger: slog.New(logs), OutageBackoff: time.Nanosecond,
	})
	const requests = 50
	for i := range requests {
		rec := rlDo(h, "/", "192.0.2.40:1")
		if rec.Code != http.StatusNoContent {
			t.Fatalf("request %d with Redis down: %d, want 204 (fail open)", i+1, rec.Code)
		}
		if rec.Header().Get("RateLimit-Remaining") != "" {
			t.Fatal("a request allowed without asking Redis claims a remaining count")
		}
	}
	if reached.Load() != requests {
		t.Fatalf("handler reached %d times, want %d", reached.Load(), requests)
	}
	if n := logs.warns.Load(); n != 1 {
		t.Fatalf("%d WARN records for %d failing requests, want 1", n, requests)
	}
	if e := logs.attrs[0]["error"].String(); !strings.Contains(e, "127.0.0.1:1") {
		t.Fatalf("warning error = %q, want the Redis failure", e)
	}
}

func TestRateLimitFailsOpenWhenRedisGoesAway(t *testing.T) {
	t.Parallel()
	_, prefix := rateLimitRedis(t)
	opts, err := redis.ParseURL(testenv.RedisURL(t))
	if err != nil {
		t.Fatal(err)
	}
	rdb := redis.NewClient(opts) // this test's own client, closed below
	logs := &rlWarnCounter{}
	h, reached := rlLimited(t, middleware.RateLimitOptions{
		Redis: rdb, Prefix: prefix, Limit: 2, Logger: slog.New(logs), OutageBackoff: time.Nanosecond,
	})
	rlDo(h, "/", "192.0.2.45:1")
	rlDo(h, "/", "192.0.2.45:1")
	if rec := rlDo(h, "/", "192.0.2.45:1"); rec.Code != http.StatusTooManyRequests {
		t.Fatalf("with Redis up: %d, want 429", rec.Code)
	}
	_ = rdb.Close() // Redis gone while the service runs
	for range 20 {
		if rec := rlDo(h, "/", "192.0.2.45:1"); rec.Code != http.StatusNoContent {
			t.Fatalf("with Redis gone: %d, want 204 (fail open)", rec.Code)
		}
	}
	if reached.Load() != 22 || logs.warns.Load() != 1 {
		t.Fatalf("reached %d, warns %d; want 22 and 1", reached.Load(), logs.warns.Load())
	}
}

func TestRateLimitWarnsAgainAfterInterval(t *testing.T) {
	t.Parallel()
	logs := &rlWarnCounter{}
	h, _ := rlLimited(t, middleware.RateLimitOptions{
		Redis: rlDeadRedis(t), Logger: slog.New(logs),
		WarnInterval: 300 * time.Millisecond, OutageBackoff: 50 * time.Millisecond,
	})
	var wg sync.WaitGroup
	for range 8 { // concurrent failures still log once
		wg.Go(func() {
			for range 10 {
				rlDo(h, "/", "192.0.2.41:1")
			}
		})
	}
	wg.Wait()
	if n := logs.warns.Load(); n != 1 {
		t.Fatalf("%d WARN records in the first interval, want 1", n)
	}
	time.Sleep(350 * time.Millisecond)
	rlDo(h, "/", "192.0.2.41:1")
	if n := logs.warns.Load(); n != 2 {
		t.Fatalf("%d WARN records after the interval, want 2", n)
	}
	// The second warning counts the requests let through since the first.
	if got := logs.attrs[1]["unlimited_requests"].Int64(); got < 1 {
		t.Fatalf("unlimited_requests = %d, want the requests since the last warning", got)
	}
}

func TestRateLimitOutageBackoffSkipsRedis(t *testing.T) {
	t.Parallel()
	logs := &rlWarnCounter{}
	h, reached := rlLimited(t, middleware.RateLimitOptions{Redis: rlDeadRedis(t), Logger: slog.New(logs)})
	start := time.Now()
	first := rlDo(h, "/", "192.0.2.42:1")
	firstTook := time.Since(start)
	start = time.Now()
	for range 100 {
		rlDo(h, "/", "192.0.2.42:1")
	}
	if took := time.Since(start); took > firstTook+100*time.Millisecond && took > 200*time.Millisecond {
		t.Fatalf("100 requests during the outage backoff took %v (one failing check took %v): Redis is still being asked", took, firstTook)
	}
	if first.Code != http.StatusNoContent || reached.Load() != 101 || logs.warns.Load() != 1 {
		t.Fatalf("status %d, reached %d, warns %d; want 204, 101, 1", first.Code, reached.Load(), logs.warns.Load())
	}
}

func TestRateLimitConcurrentRequestsNeverExceedLimit(t *testing.T) {
	t.Parallel()
	rdb, prefix := rateLimitRedis(t)
	const limit = 50
	// A long window: no request is earned back during the test.
	h, reached := rlLimited(t, middleware.RateLimitOptions{Redis: rdb, Prefix: prefix, Limit: limit, Window: time.Hour})
	var allowed, refused atomic.Int32
	var wg sync.WaitGroup
	for range 20 {
		wg.Go(func() {
			for range 10 {
				switch code := rlDo(h, "/", "192.0.2.50:1").Code; code {
				case http.StatusNoContent:
					allowed.Add(1)
				case http.StatusTooManyRequests:
					refused.Add(1)
				default:
					t.Errorf("status %d", code)
				}
			}
		})
	}
	wg.Wait()
	if allowed.Load() != limit || refused.Load() != 200-limit || reached.Load() != limit {
		t.Fatalf("allowed %d, refused %d, reached %d; want %d, %d, %d",
			allowed.Load(), refused.Load(), reached.Load(), limit, 200-limit, limit)
	}
}

func TestRateLimitRejectsBadOptions(t *testing.T) {
	t.Parallel()
	rdb := rlDeadRedis(t)
	for _, tc := range []struct {
		opts  middleware.RateLimitOptions
		field string
	}{
		{middleware.RateLimitOptions{}, "Redis"},
		{middleware.RateLimitOptions{Redis: rdb, Limit: -1}, "Limit"},
		{middleware.RateLimitOptions{Redis: rdb, Window: -time.Second}, "Window"},
		{middleware.RateLimitOptions{Redis: rdb, Window: time.Microsecond}, "Window"},
		{middleware.RateLimitOptions{Redis: rdb, WarnInterval: -1}, "WarnInterval"},
		{middleware.RateLimitOptions{Redis: rdb, OutageBackoff: -1}, "OutageBackoff"},
	} {
		mw, err := middleware.RateLimit(tc.opts)
		if err == nil || mw != nil {
			t.Errorf("%+v: no error", tc.opts)
			continue
		}
		if !strings.Contains(err.Error(), "RateLimitOptions."+tc.field) {
			t.Errorf("error %q does not name RateLimitOptions.%s", err, tc.field)
		}
	}
}

// ExampleRateLimit limits each client IP to 100 requests a minute (the
// defaults). It needs a running Redis, so it is compiled but not run.
func ExampleRateLimit() {
	rdb := redis.NewClient(&redis.Options{Addr: "127.0.0.1:6379"})
	defer rdb.Close()

	limit, err := middleware.RateLimit(middleware.RateLimitOptions{Redis: rdb})
	if err != nil {
		panic(err) // bad options fail here, before serving
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/widgets", func(w http.ResponseWriter, r *http.Request) {
		middleware.WriteJSON(w, http.StatusOK, []string{"widget"})
	})
	_ = http.ListenAndServe(":8000", limit(mux))
}
