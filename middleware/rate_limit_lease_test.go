package middleware_test

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"appkernel/internal/testenv"
	"appkernel/middleware"
)

// rlCalls counts the commands and pipelines a Redis client sends.
type rlCalls struct{ n atomic.Int64 }

func (c *rlCalls) DialHook(next redis.DialHook) redis.DialHook { return next }
func (c *rlCalls) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error { c.n.Add(1); return next(ctx, cmd) }
}
func (c *rlCalls) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error { c.n.Add(1); return next(ctx, cmds) }
}

// rlCountedClient is a client of the test Redis of its own, counting its
// calls; rateLimitRedis's prefix keeps the keys apart and cleans them up.
func rlCountedClient(t *testing.T) (*redis.Client, *rlCalls) {
	t.Helper()
	opts, err := redis.ParseURL(testenv.RedisURL(t))
	if err != nil {
		t.Fatal(err)
	}
	rdb := redis.NewClient(opts)
	t.Cleanup(func() { _ = rdb.Close() })
	calls := &rlCalls{}
	rdb.AddHook(calls)
	return rdb, calls
}

// Two instances on one Redis (a plain client and a ring, which pipelines
// one script call per key as on a cluster), a key busy enough to be leased
// (a limit of 1000: leases of up to 20 tokens), 2,400 racing requests:
// never more than the limit are allowed, no two allowed requests announce
// the same RateLimit-Remaining (each spent a token of its own, taken from
// the one budget), and the budget is spent in few Redis calls.
func TestRateLimitLeasesKeepOneBudgetAcrossInstances(t *testing.T) {
	t.Parallel()
	_, prefix := rateLimitRedis(t)
	rdb, callsA := rlCountedClient(t)
	ring := redis.NewRing(&redis.RingOptions{
		Addrs: map[string]string{"one": rdb.Options().Addr},
		DB:    rdb.Options().DB,
	})
	t.Cleanup(func() { _ = ring.Close() })
	callsB := &rlCalls{}
	ring.AddHook(callsB)
	// A window so long that no token is earned back during the test.
	const limit = 1000
	opts := middleware.RateLimitOptions{Redis: rdb, Prefix: prefix, Limit: limit, Window: 1000 * time.Hour}
	a, reachedA := rlLimited(t, opts)
	opts.Redis = ring
	b, reachedB := rlLimited(t, opts)

	var (
		mu        sync.Mutex
		remaining []int
		refused   atomic.Int32
		spending  atomic.Int64 // Redis calls made by the time of the last allowed answer
		wg        sync.WaitGroup
	)
	// Each instance alone gets more requests than the budget, so each ends
	// refused, having spent every lease it took.
	for g := range 40 {
		h := a
		if g%2 == 1 {
			h = b
		}
		wg.Go(func() {
			for range 60 {
				rec := rlDo(h, "/", "192.0.2.88:1")
				switch rec.Code {
				case http.StatusNoContent:
					n := rlHeaderInt(t, rec, "RateLimit-Remaining")
					made := callsA.n.Load() + callsB.n.Load()
					mu.Lock()
					remaining = append(remaining, n)
					spending.Store(max(spending.Load(), made))
					mu.Unlock()
				case http.StatusTooManyRequests:
					refused.Add(1)
					if rlHeaderInt(t, rec, "Retry-After") < 1 || rlHeaderInt(t, rec, "RateLimit-Remaining") != 0 {
						t.Errorf("429 headers %v", rec.Header())
					}
				default:
					t.Errorf("status %d", rec.Code)
				}
			}
		})
	}
	wg.Wait()
	allowed := int(reachedA.Load() + reachedB.Load())
	if allowed > limit || allowed+int(refused.Load()) != 2400 {
		t.Fatalf("allowed %d and refused %d of 2400 with a limit of %d", allowed, refused.Load(), limit)
	}
	// Tokens a lease dropped unspent when it expired (a stalled goroutine
	// on a loaded machine) are the only ones not spent.
	if allowed < limit-2*16 {
		t.Fatalf("allowed %d of a limit of %d: more lost than two leases", allowed, limit)
	}
	slices.Sort(remaining)
	for i, n := range remaining {
		if n < 0 || n >= limit || (i > 0 && remaining[i-1] == n) {
			t.Fatalf("RateLimit-Remaining %d announced twice or out of 0..%d: two requests spent one token", n, limit-1)
		}
	}
	// The calls that spent the budget, not those that refused the requests
	// after it (a spent key is asked about every refused request or batch,
	// however many racing requests a loaded machine lets pile up, which
	// made a bound on all calls fail by chance and say little). Leases of
	// up to 16 spend the budget in about 80 calls here; batching alone,
	// without leases, took 140 to 190.
	if calls := spending.Load(); calls > int64(allowed)/8 {
		t.Fatalf("%d Redis calls for %d allowed requests: the busy key was not leased", calls, allowed)
	}
	t.Logf("%d allowed, %d refused, %d Redis calls while spending, %d in all", allowed, refused.Load(), spending.Load(), callsA.n.Load()+callsB.n.Load())
}

// A key near its limit gets leases of one token (a lease's spare tokens are
// at most a quarter of what is left): each of the last three requests asks
// Redis, the RateLimit-Remaining of every request is exact
// (99 down to 0), and the request after the limit is refused, while the
// key far from its limit was leased (fewer calls than requests).
func TestRateLimitLeaseIsOneTokenNearTheLimit(t *testing.T) {
	t.Parallel()
	_, prefix := rateLimitRedis(t)
	rdb, calls := rlCountedClient(t)
	h, reached := rlLimited(t, middleware.RateLimitOptions{Redis: rdb, Prefix: prefix, Limit: 100, Window: 1000 * time.Hour})
	for i := range 100 {
		before := calls.n.Load()
		rec := rlDo(h, "/", "192.0.2.89:1")
		if rec.Code != http.StatusNoContent {
			t.Fatalf("request %d: status %d", i+1, rec.Code)
		}
		rem := rlHeaderInt(t, rec, "RateLimit-Remaining")
		if rem != 99-i {
			t.Fatalf("request %d: RateLimit-Remaining %d, want %d", i+1, rem, 99-i)
		}
		if made := calls.n.Load() - before; rem <= 2 && made != 1 {
			t.Fatalf("request %d (remaining %d) made %d Redis calls, want 1: near the limit every request asks Redis", i+1, rem, made)
		}
	}
	if n := calls.n.Load(); n >= 90 {
		t.Fatalf("100 requests made %d Redis calls: the key was not leased far from its limit", n)
	}
	if rec := rlDo(h, "/", "192.0.2.89:1"); rec.Code != http.StatusTooManyRequests {
		t.Fatalf("request 101: status %d, want 429", rec.Code)
	}
	if reached.Load() != 100 {
		t.Fatalf("reached %d, want 100", reached.Load())
	}
}

// leaseTTL is the documented lifetime of a lease: min(Window/100, 100 ms).
func leaseTTL(window time.Duration) time.Duration { return min(window/100, 100*time.Millisecond) }

// An instance that took a lease and went idle does not spend it after the
// lease's lifetime: its next request asks Redis again, and the tokens it
// held are gone from the budget (RateLimit-Remaining is what Redis has
// left), never spent late.
func TestRateLimitLeasesExpire(t *testing.T) {
	t.Parallel()
	_, prefix := rateLimitRedis(t)
	rdb, callsA := rlCountedClient(t)
	rdbB, _ := rlCountedClient(t)
	window := 1000 * time.Hour
	a, _ := rlLimited(t, middleware.RateLimitOptions{Redis: rdb, Prefix: prefix, Limit: 1000, Window: window})
	b, _ := rlLimited(t, middleware.RateLimitOptions{Redis: rdbB, Prefix: prefix, Limit: 1000, Window: window})

	// 30 quick requests make the key busy on A: its leases grow (1, 1, 1, 1,
	// 2, 4, 8, then 16 of the 20 a limit of 1000 allows).
	var remA int
	for range 30 {
		rec := rlDo(a, "/", "192.0.2.90:1")
		if rec.Code != http.StatusNoContent {
			t.Fatalf("status %d", rec.Code)
		}
		remA = rlHeaderInt(t, rec, "RateLimit-Remaining")
	}
	// B asks Redis: A's unspent tokens are not in what Redis has left.
	remB := rlHeaderInt(t, rlDo(b, "/", "192.0.2.90:1"), "RateLimit-Remaining")
	held := remA - remB - 1
	if held < 1 || held > 15 {
		t.Fatalf("A holds %d tokens (A announced %d left, B %d); want 1..15 after 30 quick requests", held, remA, remB)
	}
	time.Sleep(leaseTTL(window) + 20*time.Millisecond)
	before := callsA.n.Load()
	rec := rlDo(a, "/", "192.0.2.90:1")
	if calls := callsA.n.Load() - before; calls != 1 {
		t.Fatalf("A's request after the lease's lifetime made %d Redis calls, want 1", calls)
	}
	if got := rlHeaderInt(t, rec, "RateLimit-Remaining"); got != remB-1 {
		t.Fatalf("A's RateLimit-Remaining after its lease expired = %d, want %d (the %d tokens it held are dropped, not spent)", got, remB-1, held)
	}
}

// Redis going away while an instance holds a lease: the lease is spent
// (those tokens were counted), then requests fail open without the
// headers, with one WARN; never a 429 or a 500.
func TestRateLimitLeaseThenRedisDownFailsOpen(t *testing.T) {
	t.Parallel()
	_, prefix := rateLimitRedis(t)
	rdb, _ := rlCountedClient(t)
	logs := &rlWarnCounter{}
	window := 1000 * time.Hour
	h, reached := rlLimited(t, middleware.RateLimitOptions{
		Redis: rdb, Prefix: prefix, Limit: 1000, Window: window, Logger: slog.New(logs), OutageBackoff: time.Nanosecond,
	})
	for range 30 {
		rlDo(h, "/", "192.0.2.91:1")
	}
	_ = rdb.Close()
	leased := 0
	for i := range 40 {
		rec := rlDo(h, "/", "192.0.2.91:1")
		if rec.Code != http.StatusNoContent {
			t.Fatalf("request %d with Redis gone: %d, want 204", i+1, rec.Code)
		}
		if rec.Header().Get("RateLimit-Remaining") != "" {
			leased++
		}
	}
	if leased > 15 {
		t.Fatalf("%d requests limited with Redis gone; a lease has at most 15 spare tokens", leased)
	}
	time.Sleep(leaseTTL(window) + 20*time.Millisecond)
	for i := range 10 {
		rec := rlDo(h, "/", "192.0.2.91:1")
		if rec.Code != http.StatusNoContent || rec.Header().Get("RateLimit-Remaining") != "" {
			t.Fatalf("request %d after the lease expired with Redis gone: %d %v, want 204 without headers", i+1, rec.Code, rec.Header())
		}
	}
	if reached.Load() != 80 || logs.warns.Load() != 1 {
		t.Fatalf("reached %d, warns %d; want 80 and 1", reached.Load(), logs.warns.Load())
	}
}

// A client that goes away while the lease its request asked for is on its
// way does not fail the requests waiting for that lease: they are decided
// (RateLimit headers, no 'Redis failed' warning), not let through as if
// Redis were down.
func TestRateLimitLeaseSurvivesItsSenderLeaving(t *testing.T) {
	t.Parallel()
	_, prefix := rateLimitRedis(t)
	rdb, _ := rlCountedClient(t)
	rdb.AddHook(&scriptCounter{}) // holds each command 5 ms
	logs := &rlWarnCounter{}
	h, _ := rlLimited(t, middleware.RateLimitOptions{
		Redis: rdb, Prefix: prefix, Limit: 1000, Window: time.Hour, Logger: slog.New(logs),
	})
	ctx, cancel := context.WithCancel(context.Background())
	leaving := httptest.NewRequest(http.MethodGet, "/", nil).WithContext(ctx)
	leaving.RemoteAddr = "192.0.2.92:1"
	var wg sync.WaitGroup
	wg.Go(func() { h.ServeHTTP(httptest.NewRecorder(), leaving) })
	time.Sleep(time.Millisecond) // its lease is on its way, held 5 ms
	var waiting *httptest.ResponseRecorder
	wg.Go(func() { waiting = rlDo(h, "/", "192.0.2.92:1") })
	time.Sleep(time.Millisecond)
	cancel()
	wg.Wait()
	if waiting.Code != http.StatusNoContent || waiting.Header().Get("RateLimit-Remaining") == "" {
		t.Fatalf("the request waiting for the lease: %d %v, want 204 with RateLimit headers", waiting.Code, waiting.Header())
	}
	if n := logs.warns.Load(); n != 0 {
		t.Fatalf("%d warnings: a client leaving is not a Redis failure", n)
	}
}
