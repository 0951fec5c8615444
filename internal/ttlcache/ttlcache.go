// Package ttlcache is a small in-process cache whose entries live at most
// a TTL, with coalesced loads and writers that a slower load never undoes:
// what holds verified identities, sessions, memberships and API keys so
// that a warm authenticated request costs no database round trip.
package ttlcache

import (
	"context"
	"sync"
	"time"

	"golang.org/x/sync/singleflight"
)

// Cache is a cache whose entries live at most ttl, holding at most limit
// of them (past it, expired entries go, then all). Loads of one key are
// coalesced; load errors are not cached.
type Cache[V any] struct {
	ttl   time.Duration
	now   func() time.Time
	limit int

	mu  sync.RWMutex
	m   map[string]ttlEntry[V]
	gen uint64 // counts the writers' puts and forgets; guarded by mu
	sf  singleflight.Group
}

type ttlEntry[V any] struct {
	v       V
	expires time.Time
}

// New returns an empty cache; now is its clock (time.Now in production).
func New[V any](ttl time.Duration, now func() time.Time, limit int) *Cache[V] {
	return &Cache[V]{ttl: ttl, now: now, limit: limit, m: make(map[string]ttlEntry[V])}
}

// Get returns the cached value of key, loading it with load on a miss.
func (c *Cache[V]) Get(ctx context.Context, key string, load func(context.Context) (V, error)) (V, error) {
	c.mu.RLock()
	e, ok := c.m[key]
	c.mu.RUnlock()
	if ok && c.now().Before(e.expires) {
		return e.v, nil
	}
	res, err, _ := c.sf.Do(key, func() (any, error) {
		c.mu.RLock()
		gen := c.gen
		c.mu.RUnlock()
		v, err := load(context.WithoutCancel(ctx))
		if err != nil {
			return v, err
		}
		// A writer that put or forgot anything while this load ran may
		// have stored what the load read before the change (a session
		// revoked meanwhile): then the loaded value is not cached.
		c.store(key, v, c.now().Add(c.ttl), true, gen)
		return v, nil
	})
	if err != nil {
		var zero V
		return zero, err
	}
	return res.(V), nil
}

// Lookup returns the live cached value of key without loading.
func (c *Cache[V]) Lookup(key string) (V, bool) {
	c.mu.RLock()
	e, ok := c.m[key]
	c.mu.RUnlock()
	if !ok || !c.now().Before(e.expires) {
		var zero V
		return zero, false
	}
	return e.v, true
}

// Put caches v for ttl, as a writer: a load that began before it does not
// replace it.
func (c *Cache[V]) Put(key string, v V) { c.PutUntil(key, v, c.now().Add(c.ttl)) }

// PutUntil caches v until expires or ttl from now, whichever is sooner.
func (c *Cache[V]) PutUntil(key string, v V, expires time.Time) {
	c.store(key, v, expires, false, 0)
}

// store caches v until expires or ttl from now, whichever is sooner. A
// writer always stores and counts as a change; a load (fromLoad) stores
// only when no writer changed the cache since it began, at generation gen.
func (c *Cache[V]) store(key string, v V, expires time.Time, fromLoad bool, gen uint64) {
	now := c.now()
	if lim := now.Add(c.ttl); expires.After(lim) {
		expires = lim
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if !fromLoad {
		c.gen++
	} else if gen != c.gen {
		return
	}
	if len(c.m) >= c.limit {
		for k, e := range c.m {
			if !now.Before(e.expires) {
				delete(c.m, k)
			}
		}
		if len(c.m) >= c.limit {
			clear(c.m)
		}
	}
	c.m[key] = ttlEntry[V]{v: v, expires: expires}
}

// Forget drops key, so this process sees a change at once (other processes
// within ttl).
func (c *Cache[V]) Forget(key string) {
	c.mu.Lock()
	c.gen++
	delete(c.m, key)
	c.mu.Unlock()
	c.sf.Forget(key)
}

// Len is how many entries the cache holds, expired ones included.
func (c *Cache[V]) Len() int {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return len(c.m)
}
