package cache_test

import (
	"context"
	"encoding/json"
	"sync"
	"testing"
	"time"

	"appkernel/cache"
)

// benchValue is a typical small cached record.
type benchValue struct {
	ID    string   `json:"id"`
	Email string   `json:"email"`
	Role  string   `json:"role"`
	Count int      `json:"count"`
	Tags  []string `json:"tags"`
}

var benchRecord = benchValue{ID: "0190b6d2-8c3e-7a51-9f0e-3c1d2b4a5e6f", Email: "ada@example.com", Role: "admin", Count: 42, Tags: []string{"a", "b"}}

// plainJSONMap is the plain alternative to Memory: a mutex-guarded map of
// JSON bytes, no TTL, no bound, no LRU bookkeeping.
type plainJSONMap struct {
	mu sync.RWMutex
	m  map[string][]byte
}

func (p *plainJSONMap) get(key string, dst any) (bool, error) {
	p.mu.RLock()
	b, ok := p.m[key]
	p.mu.RUnlock()
	if !ok {
		return false, nil
	}
	return true, json.Unmarshal(b, dst)
}

func BenchmarkGet(b *testing.B) {
	ctx := context.Background()

	b.Run("impl=plain-map-json", func(b *testing.B) {
		raw, _ := json.Marshal(benchRecord)
		p := &plainJSONMap{m: map[string][]byte{"k": raw}}
		var v benchValue
		for b.Loop() {
			if ok, err := p.get("k", &v); !ok || err != nil {
				b.Fatal(ok, err)
			}
		}
	})

	b.Run("impl=memory", func(b *testing.B) {
		m := cache.NewMemory(cache.MemoryOptions{})
		_ = m.Set(ctx, "k", benchRecord, time.Hour)
		var v benchValue
		for b.Loop() {
			if ok, err := m.Get(ctx, "k", &v); !ok || err != nil {
				b.Fatal(ok, err)
			}
		}
	})

	b.Run("impl=memory-getorload", func(b *testing.B) {
		m := cache.NewMemory(cache.MemoryOptions{})
		_ = m.Set(ctx, "k", benchRecord, time.Hour)
		load := func(context.Context) (benchValue, error) { b.Fatal("loader called on a hit"); return benchValue{}, nil }
		for b.Loop() {
			if _, err := cache.GetOrLoad(ctx, m, "k", time.Hour, load); err != nil {
				b.Fatal(err)
			}
		}
	})

	b.Run("impl=redis", func(b *testing.B) {
		rdb := newRedisClient(b)
		c := cache.NewRedis(rdb, cache.Prefix(uniquePrefix(b, rdb)))
		_ = c.Set(ctx, "k", benchRecord, time.Hour)
		var v benchValue
		for b.Loop() {
			if ok, err := c.Get(ctx, "k", &v); !ok || err != nil {
				b.Fatal(ok, err)
			}
		}
	})
}

// BenchmarkMemoryGetParallel measures Get under contention from every P.
func BenchmarkMemoryGetParallel(b *testing.B) {
	ctx := context.Background()
	m := cache.NewMemory(cache.MemoryOptions{})
	_ = m.Set(ctx, "k", benchRecord, time.Hour)
	b.RunParallel(func(pb *testing.PB) {
		var v benchValue
		for pb.Next() {
			if ok, err := m.Get(ctx, "k", &v); !ok || err != nil {
				b.Fatal(ok, err)
			}
		}
	})
}
