package auth

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"appkernel/internal/testenv"
)

// fakeClock is a settable clock for throttle windows.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }

func (c *fakeClock) add(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

func throttlers(t *testing.T, clock *fakeClock) map[string]throttler {
	out := map[string]throttler{"memory": newMemoryThrottler(clock.now)}
	if url := redisURLOrEmpty(t); url != "" {
		opt, err := redis.ParseURL(url)
		if err != nil {
			t.Fatal(err)
		}
		rdb := redis.NewClient(opt)
		prefix := uniquePrefix(t)
		t.Cleanup(func() { deletePrefix(rdb, prefix); _ = rdb.Close() })
		out["redis"] = &redisThrottler{rdb: rdb, prefix: prefix, now: clock.now}
	}
	return out
}

// redisURLOrEmpty returns the Redis URL, or "" so that the memory
// variant of a test still runs when Redis is not configured (a Redis-only
// subtest calls testenv.RedisURL and skips or fails as configured).
func redisURLOrEmpty(t *testing.T) string {
	var url string
	t.Run("redis-available", func(t *testing.T) { url = testenv.RedisURL(t) })
	return url
}

// deletePrefix removes the keys a test made under its own prefix.
func deletePrefix(rdb *redis.Client, prefix string) {
	ctx := context.Background()
	iter := rdb.Scan(ctx, 0, prefix+"*", 100).Iterator()
	for iter.Next(ctx) {
		rdb.Del(ctx, iter.Val())
	}
}

var prefixSeq atomic.Int64

func uniquePrefix(t testing.TB) string {
	return fmt.Sprintf("aktest:auth:%d:%d:", time.Now().UnixNano(), prefixSeq.Add(1))
}

func TestThrottleAccountAndIPWindow(t *testing.T) {
	t.Parallel()
	for name, th := range throttlers(t, &fakeClock{t: time.Unix(1_700_000_000, 0)}) {
		t.Run(name, func(t *testing.T) {
			clock := &fakeClock{t: time.Unix(1_700_000_000, 0)}
			setClock(th, clock)
			ctx := context.Background()
			acct := accountKey("a@example.com")
			for i := range accountIPFailures {
				if _, err := th.reserve(ctx, client{account: acct, ip: "10.0.0.1"}); err != nil {
					t.Fatalf("failure %d refused: %v", i+1, err)
				}
				clock.add(time.Second)
			}
			_, err := th.reserve(ctx, client{account: acct, ip: "10.0.0.1"})
			var te *ThrottleError
			if !errors.As(err, &te) || !errors.Is(err, ErrTooManyAttempts) {
				t.Fatalf("11th attempt from one IP = %v, want *ThrottleError", err)
			}
			// The oldest failure leaves the 15-minute window 15m-10s from now.
			if want := accountIPWindow - 10*time.Second; te.RetryAfter != want {
				t.Fatalf("RetryAfter = %s, want %s", te.RetryAfter, want)
			}
			// Another IP still has its own budget for this account.
			if _, err := th.reserve(ctx, client{account: acct, ip: "10.0.0.2"}); err != nil {
				t.Fatalf("other IP refused: %v", err)
			}
			clock.add(te.RetryAfter)
			if _, err := th.reserve(ctx, client{account: acct, ip: "10.0.0.1"}); err != nil {
				t.Fatalf("after RetryAfter: %v", err)
			}
		})
	}
}

func TestThrottleAccountWindowAcrossIPs(t *testing.T) {
	t.Parallel()
	for name, th := range throttlers(t, &fakeClock{}) {
		t.Run(name, func(t *testing.T) {
			clock := &fakeClock{t: time.Unix(1_700_000_000, 0)}
			setClock(th, clock)
			ctx := context.Background()
			acct := accountKey("b@example.com")
			for i := range accountFailures {
				if _, err := th.reserve(ctx, client{account: acct, ip: fmt.Sprintf("10.1.%d.%d", i/250, i%250)}); err != nil {
					t.Fatalf("failure %d refused: %v", i+1, err)
				}
			}
			var te *ThrottleError
			if _, err := th.reserve(ctx, client{account: acct, ip: "10.9.9.9"}); !errors.As(err, &te) || te.RetryAfter != accountWindow {
				t.Fatalf("101st failure in the hour from a fresh IP = %v, want retry after 1h", err)
			}
			// Other accounts are not affected.
			if _, err := th.reserve(ctx, client{account: accountKey("c@example.com"), ip: "10.9.9.9"}); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestThrottleSuccessGivesBackAndResets(t *testing.T) {
	t.Parallel()
	for name, th := range throttlers(t, &fakeClock{}) {
		t.Run(name, func(t *testing.T) {
			clock := &fakeClock{t: time.Unix(1_700_000_000, 0)}
			setClock(th, clock)
			ctx := context.Background()
			acct := accountKey("d@example.com")
			for range accountIPFailures - 1 {
				if _, err := th.reserve(ctx, client{account: acct, ip: "10.0.0.1"}); err != nil {
					t.Fatal(err)
				}
			}
			a, err := th.reserve(ctx, client{account: acct, ip: "10.0.0.1"})
			if err != nil {
				t.Fatal(err)
			}
			if err := th.succeeded(ctx, a); err != nil {
				t.Fatal(err)
			}
			// The account+IP window starts over after a success.
			for i := range accountIPFailures {
				if _, err := th.reserve(ctx, client{account: acct, ip: "10.0.0.1"}); err != nil {
					t.Fatalf("failure %d after a success refused: %v", i+1, err)
				}
			}
		})
	}
}

func TestThrottleConcurrentAttemptsCannotOvershoot(t *testing.T) {
	t.Parallel()
	for name, th := range throttlers(t, &fakeClock{}) {
		t.Run(name, func(t *testing.T) {
			setClock(th, &fakeClock{t: time.Unix(1_700_000_000, 0)})
			acct := accountKey("e@example.com")
			var ok atomic.Int64
			var wg sync.WaitGroup
			for range 40 {
				wg.Go(func() {
					if _, err := th.reserve(context.Background(), client{account: acct, ip: "10.0.0.1"}); err == nil {
						ok.Add(1)
					}
				})
			}
			wg.Wait()
			if ok.Load() != accountIPFailures {
				t.Fatalf("%d of 40 concurrent attempts got through, want exactly %d", ok.Load(), accountIPFailures)
			}
		})
	}
}

func setClock(th throttler, c *fakeClock) {
	switch x := th.(type) {
	case *memoryThrottler:
		x.now = c.now
	case *redisThrottler:
		x.now = c.now
	}
}
