package cache_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"appkernel/cache"
	"appkernel/cache/cachetest"
)

func TestMemoryConformance(t *testing.T) {
	cachetest.Exercise(t, func(t *testing.T) cache.Cache {
		return cache.NewMemory(cache.MemoryOptions{})
	})
}

func TestMemoryEvictsLeastRecentlyUsed(t *testing.T) {
	ctx := context.Background()
	m := cache.NewMemory(cache.MemoryOptions{MaxEntries: 3})
	for _, k := range []string{"a", "b", "c"} {
		if err := m.Set(ctx, k, k, time.Minute); err != nil {
			t.Fatal(err)
		}
	}
	var s string
	if ok, _ := m.Get(ctx, "a", &s); !ok { // a becomes the most recently used
		t.Fatal("a missing before any eviction")
	}
	if err := m.Set(ctx, "d", "d", time.Minute); err != nil { // evicts b
		t.Fatal(err)
	}
	if err := m.Set(ctx, "c", "c2", time.Minute); err != nil { // overwrite: no eviction
		t.Fatal(err)
	}
	want := map[string]bool{"a": true, "b": false, "c": true, "d": true}
	for k, present := range want {
		if ok, _ := m.Get(ctx, k, &s); ok != present {
			t.Errorf("Get(%q) hit = %v, want %v", k, ok, present)
		}
	}
	if n := m.Len(); n != 3 {
		t.Fatalf("Len = %d, want 3", n)
	}
}

func TestMemoryBoundUnderConcurrentWrites(t *testing.T) {
	ctx := context.Background()
	const max = 100
	m := cache.NewMemory(cache.MemoryOptions{MaxEntries: max})
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 1000 {
				_ = m.Set(ctx, fmt.Sprintf("%d:%d", g, i), i, time.Minute)
				if n := m.Len(); n > max {
					t.Errorf("Len = %d while writing, bound is %d", n, max)
					return
				}
			}
		})
	}
	wg.Wait()
	if n := m.Len(); n != max {
		t.Fatalf("Len = %d after 8,000 distinct keys, want exactly %d", n, max)
	}
	// A burst of fresh keys replaces everything written before.
	for i := range max {
		_ = m.Set(ctx, fmt.Sprint("fresh:", i), i, time.Minute)
	}
	var n int
	for i := range max {
		if ok, _ := m.Get(ctx, fmt.Sprint("fresh:", i), &n); !ok || n != i {
			t.Fatalf("fresh key %d evicted by older entries", i)
		}
	}
}

func TestMemoryDefaultBound(t *testing.T) {
	ctx := context.Background()
	m := cache.NewMemory(cache.MemoryOptions{})
	for i := range cache.DefaultMaxEntries + 10 {
		_ = m.Set(ctx, fmt.Sprint(i), i, 0)
	}
	if n := m.Len(); n != cache.DefaultMaxEntries {
		t.Fatalf("Len = %d, want the default bound %d", n, cache.DefaultMaxEntries)
	}
}

func TestMemoryReclaimsExpiredOnRead(t *testing.T) {
	ctx := context.Background()
	m := cache.NewMemory(cache.MemoryOptions{})
	_ = m.Set(ctx, "k", 1, time.Millisecond)
	time.Sleep(5 * time.Millisecond)
	var n int
	if ok, _ := m.Get(ctx, "k", &n); ok {
		t.Fatal("expired entry returned")
	}
	if m.Len() != 0 {
		t.Fatalf("Len = %d after reading an expired entry, want 0", m.Len())
	}
}

func TestMemoryHugeTTLNeverExpires(t *testing.T) {
	ctx := context.Background()
	m := cache.NewMemory(cache.MemoryOptions{})
	_ = m.Set(ctx, "k", 1, time.Duration(1<<63-1))
	var n int
	if ok, _ := m.Get(ctx, "k", &n); !ok {
		t.Fatal("an entry with the largest TTL is already expired")
	}
}
