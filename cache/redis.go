package cache

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"
	"golang.org/x/sync/singleflight"

	"appkernel/internal/redisguard"
)

// DefaultRedisPrefix is the prefix of every key a Redis cache writes when
// no Prefix option is given.
const DefaultRedisPrefix = "appkernel:cache:"

// Redis is a Cache in Redis, shared by every process that uses the same
// server and prefix. Values are stored as JSON strings under prefix+key with
// the entry's TTL as the Redis key expiry.
type Redis struct {
	flight SingleFlight
	rdb    redis.UniversalClient
	prefix string
}

// RedisOption configures NewRedis.
type RedisOption func(*Redis)

// Prefix sets the prefix of every key the cache writes, so that several
// services or caches can share one Redis. Defaults to "appkernel:cache:"
// (DefaultRedisPrefix).
func Prefix(prefix string) RedisOption {
	return func(c *Redis) { c.prefix = prefix }
}

// NewRedis returns a Cache over rdb. The caller keeps ownership of rdb and
// closes it; the cache holds no other resources.
func NewRedis(rdb redis.UniversalClient, opts ...RedisOption) *Redis {
	c := &Redis{rdb: rdb, prefix: DefaultRedisPrefix}
	for _, o := range opts {
		o(c)
	}
	return c
}

// Get implements Cache.
func (c *Redis) Get(ctx context.Context, key string, dst any) (bool, error) {
	b, err := c.rdb.Get(ctx, c.prefix+key).Bytes()
	if errors.Is(err, redis.Nil) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("cache: get %q: %w", key, redisErr(err))
	}
	if err := json.Unmarshal(b, dst); err != nil {
		return false, fmt.Errorf("cache: decode %q: %w", key, err)
	}
	return true, nil
}

// Set implements Cache.
func (c *Redis) Set(ctx context.Context, key string, v any, ttl time.Duration) error {
	if err := checkTTL(ttl); err != nil {
		return err
	}
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("cache: encode %q: %w", key, err)
	}
	if err := c.rdb.Set(ctx, c.prefix+key, b, ttl).Err(); err != nil {
		return fmt.Errorf("cache: set %q: %w", key, redisErr(err))
	}
	return nil
}

// Delete implements Cache.
func (c *Redis) Delete(ctx context.Context, key string) error {
	if err := c.rdb.Del(ctx, c.prefix+key).Err(); err != nil {
		return fmt.Errorf("cache: delete %q: %w", key, redisErr(err))
	}
	return nil
}

// redisErr wraps err with ErrUnavailable when it says Redis could not be
// reached.
func redisErr(err error) error {
	if redisguard.Unavailable(err) {
		return fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	return err
}

func (c *Redis) flightGroup() *singleflight.Group { return c.flight.flightGroup() }
