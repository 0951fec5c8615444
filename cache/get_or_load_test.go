package cache_test

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"appkernel/cache"
)

// plainCache is a Cache of someone else's making, without single-flight.
type plainCache struct{ cache.Cache }

// flightCache is one that embeds cache.SingleFlight.
type flightCache struct {
	cache.SingleFlight
	cache.Cache
}

// concurrentMisses runs 50 GetOrLoad misses of one key at once and returns
// how many times the loader ran.
func concurrentMisses(t *testing.T, c cache.Cache) int32 {
	t.Helper()
	var calls atomic.Int32
	release := make(chan struct{})
	load := func(context.Context) (string, error) {
		calls.Add(1)
		<-release
		return "v", nil
	}
	var started, wg sync.WaitGroup
	started.Add(50)
	for range 50 {
		wg.Go(func() {
			started.Done()
			if v, err := cache.GetOrLoad(context.Background(), c, "k", time.Minute, load); v != "v" || err != nil {
				t.Errorf("GetOrLoad = %q, %v", v, err)
			}
		})
	}
	started.Wait()
	time.Sleep(50 * time.Millisecond)
	close(release)
	wg.Wait()
	return calls.Load()
}

func TestGetOrLoadOwnImplementations(t *testing.T) {
	t.Run("without SingleFlight every miss loads", func(t *testing.T) {
		if n := concurrentMisses(t, plainCache{cache.NewMemory(cache.MemoryOptions{})}); n < 2 {
			t.Fatalf("loader ran %d times; without SingleFlight concurrent misses are not shared", n)
		}
	})
	t.Run("embedding SingleFlight shares the load", func(t *testing.T) {
		if n := concurrentMisses(t, &flightCache{Cache: cache.NewMemory(cache.MemoryOptions{})}); n != 1 {
			t.Fatalf("loader ran %d times, want 1", n)
		}
	})
}
