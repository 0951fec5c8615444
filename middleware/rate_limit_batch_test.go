package middleware_test

import (
	"context"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"appkernel/internal/testenv"
	"appkernel/middleware"
)

// Two instances of a service (two limiters, each with its own client: a
// plain client, which decides a batch in one script call, and a ring,
// which pipelines one call per key as on a cluster) share one budget on
// one Redis: however many requests race through them, exactly Limit are
// allowed, each announcing a distinct RateLimit-Remaining from Limit-1 down
// to 0, and every refusal says when to come back.
func TestRateLimitBatchesKeepOneBudgetAcrossInstances(t *testing.T) {
	t.Parallel()
	rdb, prefix := rateLimitRedis(t)
	ring := redis.NewRing(&redis.RingOptions{
		Addrs: map[string]string{"one": rdb.Options().Addr},
		DB:    rdb.Options().DB,
	})
	t.Cleanup(func() { _ = ring.Close() })
	const limit = 60
	a, reachedA := rlLimited(t, middleware.RateLimitOptions{Redis: rdb, Prefix: prefix, Limit: limit, Window: time.Hour})
	b, reachedB := rlLimited(t, middleware.RateLimitOptions{Redis: ring, Prefix: prefix, Limit: limit, Window: time.Hour})

	var (
		mu        sync.Mutex
		remaining []int
		refused   atomic.Int32
		wg        sync.WaitGroup
	)
	for g := range 40 {
		h := a
		if g%2 == 1 {
			h = b
		}
		wg.Go(func() {
			for range 8 {
				rec := rlDo(h, "/", "192.0.2.77:1")
				switch rec.Code {
				case http.StatusNoContent:
					n := rlHeaderInt(t, rec, "RateLimit-Remaining")
					mu.Lock()
					remaining = append(remaining, n)
					mu.Unlock()
				case http.StatusTooManyRequests:
					refused.Add(1)
					if rlHeaderInt(t, rec, "Retry-After") < 1 || rlHeaderInt(t, rec, "RateLimit-Remaining") != 0 {
						t.Errorf("429 headers %v", rec.Header())
					}
				default:
					t.Errorf("status %d", rec.Code)
				}
				if rlHeaderInt(t, rec, "RateLimit-Limit") != limit {
					t.Errorf("RateLimit-Limit %q", rec.Header().Get("RateLimit-Limit"))
				}
			}
		})
	}
	wg.Wait()
	if got := reachedA.Load() + reachedB.Load(); got != limit || refused.Load() != 320-limit {
		t.Fatalf("allowed %d and refused %d of 320, want %d and %d", got, refused.Load(), limit, 320-limit)
	}
	slices.Sort(remaining)
	for i, n := range remaining {
		if n != i {
			t.Fatalf("RateLimit-Remaining of the allowed requests %v, want each of 0..%d once", remaining, limit-1)
		}
	}
}

// scriptCounter counts the commands a client sends and holds each one for
// a moment, so that requests pile up behind a round trip as under load.
type scriptCounter struct{ calls atomic.Int32 }

func (h *scriptCounter) DialHook(next redis.DialHook) redis.DialHook { return next }
func (h *scriptCounter) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		h.calls.Add(1)
		time.Sleep(5 * time.Millisecond)
		return next(ctx, cmd)
	}
}
func (h *scriptCounter) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		h.calls.Add(1)
		return next(ctx, cmds)
	}
}

// Concurrent requests share round trips: 200 requests from 50 clients do
// not cost 200 script calls.
func TestRateLimitCoalescesConcurrentRequests(t *testing.T) {
	t.Parallel()
	opts, err := redis.ParseURL(testenv.RedisURL(t))
	if err != nil {
		t.Fatal(err)
	}
	rdb := redis.NewClient(opts)
	t.Cleanup(func() { _ = rdb.Close() })
	_, prefix := rateLimitRedis(t)
	counter := &scriptCounter{}
	rdb.AddHook(counter)
	h, reached := rlLimited(t, middleware.RateLimitOptions{Redis: rdb, Prefix: prefix, Limit: 1 << 20, Window: time.Hour})
	var wg sync.WaitGroup
	for g := range 50 {
		wg.Go(func() {
			for range 4 {
				if rec := rlDo(h, "/", "192.0.2."+string(rune('0'+g%10))+":1"); rec.Code != http.StatusNoContent {
					t.Errorf("status %d", rec.Code)
				}
			}
		})
	}
	wg.Wait()
	if reached.Load() != 200 {
		t.Fatalf("%d requests reached the handler, want 200", reached.Load())
	}
	if n := counter.calls.Load(); n > 100 {
		t.Fatalf("200 concurrent requests cost %d Redis calls; they should share round trips", n)
	}
	t.Logf("200 concurrent requests, %d Redis calls", counter.calls.Load())
}
