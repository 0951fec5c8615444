package cache_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"appkernel/cache"
	"appkernel/cache/cachetest"
	"appkernel/internal/testenv"
	"appkernel/middleware"
)

// newRedisClient connects to the test Redis, or skips t.
func newRedisClient(t testing.TB) *redis.Client {
	t.Helper()
	opts, err := redis.ParseURL(testenv.RedisURL(t))
	if err != nil {
		t.Fatalf("parse %s: %v", testenv.RedisVar, err)
	}
	rdb := redis.NewClient(opts)
	t.Cleanup(func() { _ = rdb.Close() })
	if err := rdb.Ping(context.Background()).Err(); err != nil {
		t.Fatalf("ping test Redis: %v", err)
	}
	return rdb
}

// uniquePrefix returns a key prefix no other test uses and deletes the keys
// under it when t ends. Redis is shared: never FLUSH.
func uniquePrefix(t testing.TB, rdb *redis.Client) string {
	t.Helper()
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	prefix := "appkernel:test:cache:" + hex.EncodeToString(b) + ":"
	t.Cleanup(func() {
		ctx := context.Background()
		iter := rdb.Scan(ctx, 0, prefix+"*", 1000).Iterator()
		for iter.Next(ctx) {
			rdb.Del(ctx, iter.Val())
		}
	})
	return prefix
}

func TestRedisConformance(t *testing.T) {
	rdb := newRedisClient(t)
	cachetest.Exercise(t, func(t *testing.T) cache.Cache {
		return cache.NewRedis(rdb, cache.Prefix(uniquePrefix(t, rdb)))
	})
}

func TestRedisStoresJSONUnderPrefix(t *testing.T) {
	ctx := context.Background()
	rdb := newRedisClient(t)
	prefix := uniquePrefix(t, rdb)
	c := cache.NewRedis(rdb, cache.Prefix(prefix))
	if err := c.Set(ctx, "user:1", map[string]any{"name": "ada"}, time.Minute); err != nil {
		t.Fatal(err)
	}
	raw, err := rdb.Get(ctx, prefix+"user:1").Result()
	if err != nil {
		t.Fatalf("raw GET of the prefixed key: %v", err)
	}
	if raw != `{"name":"ada"}` {
		t.Fatalf("stored %q, want JSON", raw)
	}
	ttl := rdb.PTTL(ctx, prefix+"user:1").Val()
	if ttl <= 55*time.Second || ttl > time.Minute {
		t.Fatalf("Redis TTL = %v, want about 1m", ttl)
	}
	if n := rdb.Exists(ctx, "user:1").Val(); n != 0 {
		t.Fatal("value written without its prefix")
	}
}

func TestRedisDefaultPrefix(t *testing.T) {
	ctx := context.Background()
	rdb := newRedisClient(t)
	c := cache.NewRedis(rdb)
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	key := "test:" + hex.EncodeToString(b)
	t.Cleanup(func() { rdb.Del(context.Background(), cache.DefaultRedisPrefix+key) })
	if err := c.Set(ctx, key, 1, time.Minute); err != nil {
		t.Fatal(err)
	}
	if rdb.Exists(ctx, "appkernel:cache:"+key).Val() != 1 {
		t.Fatal(`value not stored under "appkernel:cache:"`)
	}
}

func TestRedisErrorsSurface(t *testing.T) {
	// A client pointed at a closed port: Get and Set report the failure,
	// they do not pretend to miss.
	rdb := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", MaxRetries: -1, DialerRetries: 1, DialTimeout: 200 * time.Millisecond})
	t.Cleanup(func() { _ = rdb.Close() })
	c := cache.NewRedis(rdb)
	ctx := context.Background()
	var s string
	if ok, err := c.Get(ctx, "k", &s); !errors.Is(err, cache.ErrUnavailable) || ok {
		t.Fatalf("Get on a dead Redis = (%v, %v), want an error wrapping ErrUnavailable", ok, err)
	}
	err := c.Set(ctx, "k", "v", time.Minute)
	if !errors.Is(err, cache.ErrUnavailable) {
		t.Fatalf("Set on a dead Redis: %v, want an error wrapping ErrUnavailable", err)
	}
	// Over HTTP that is a 503 in the error shape, not a 500.
	if status, code, msg := middleware.Classify(err); status != http.StatusServiceUnavailable || code != "cache_unavailable" || msg != "cache: Redis is unavailable" {
		t.Errorf("Classify(Set error) = %d %q %q, want 503 cache_unavailable", status, code, msg)
	}
	if err := c.Delete(ctx, "k"); !errors.Is(err, cache.ErrUnavailable) {
		t.Fatalf("Delete on a dead Redis: %v, want an error wrapping ErrUnavailable", err)
	}
	// GetOrLoad degrades to the loader.
	v, err := cache.GetOrLoad(ctx, c, "k", time.Minute, func(context.Context) (string, error) { return "loaded", nil })
	if err != nil || v != "loaded" {
		t.Fatalf("GetOrLoad on a dead Redis = %q, %v; want the loaded value", v, err)
	}
}
