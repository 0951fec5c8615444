package appkernel

import (
	"context"
	"fmt"
	"strings"

	"github.com/redis/go-redis/v9"

	"appkernel/cache"
)

// redisNamespace is what every Redis key the kernel writes starts with:
// RedisPrefix, else Name, followed by one ":".
func (c *Config) redisNamespace() string {
	ns := c.RedisPrefix
	if ns == "" {
		ns = c.Name
	}
	if ns == "" {
		ns = "appkernel"
	}
	return strings.TrimSuffix(ns, ":") + ":"
}

// connectRedis connects to cfg.RedisURL and checks that it answers within
// cfg.ConnectTimeout. It is the one place New and RunWorker connect, so
// both refuse a Redis that does not answer with the same message. The
// caller must close the client.
func connectRedis(ctx context.Context, cfg Config) (*redis.Client, error) {
	opt, err := redis.ParseURL(cfg.RedisURL)
	if err != nil {
		return nil, fmt.Errorf("%w: REDIS_URL %q: %v", ErrConfig, MaskURL(cfg.RedisURL), err)
	}
	rdb := redis.NewClient(opt)
	if err := pingRedis(ctx, rdb, cfg.ConnectTimeout); err != nil {
		_ = rdb.Close()
		return nil, fmt.Errorf("appkernel: Redis (REDIS_URL) at %s does not answer: %w", MaskURL(cfg.RedisURL), err)
	}
	return rdb, nil
}

// wireRedis connects to Redis, when it is configured.
func (k *Kernel) wireRedis(ctx context.Context) error {
	cfg := k.cfg
	if cfg.RedisURL == "" {
		k.feature("redis", "off (REDIS_URL not set)")
		return nil
	}
	rdb, err := connectRedis(ctx, cfg)
	if err != nil {
		return err
	}
	k.redis = rdb
	k.closers = append(k.closers, rdb.Close)
	k.feature("redis", fmt.Sprintf("on (%s, keys under %q)", MaskURL(cfg.RedisURL), cfg.redisNamespace()))
	return nil
}

// wireCache builds the cache: Redis under the namespace, else in memory.
func (k *Kernel) wireCache(context.Context) error {
	if k.redis != nil {
		k.cache = cache.NewRedis(k.redis, cache.Prefix(k.cfg.redisNamespace()+"cache:"))
		k.feature("cache", "redis")
		return nil
	}
	k.cache = cache.NewMemory(cache.MemoryOptions{})
	k.feature("cache", "memory (REDIS_URL not set)")
	return nil
}
