package auth

import (
	"context"
	"sync"
	"time"

	"golang.org/x/sync/singleflight"
)

// ttlCache is a small in-process cache whose entries live at most ttl. It
// holds verified identities (users, sessions, memberships) so an
// authenticated request costs no database round trip while warm. Loads of
// one key are coalesced; load errors are not cached.
type ttlCache[V any] struct {
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

func newTTLCache[V any](ttl time.Duration, now func() time.Time, limit int) *ttlCache[V] {
	return &ttlCache[V]{ttl: ttl, now: now, limit: limit, m: make(map[string]ttlEntry[V])}
}

// get returns the cached value of key, loading it with load on a miss.
func (c *ttlCache[V]) get(ctx context.Context, key string, load func(context.Context) (V, error)) (V, error) {
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

// lookup returns the live cached value of key without loading.
func (c *ttlCache[V]) lookup(key string) (V, bool) {
	c.mu.RLock()
	e, ok := c.m[key]
	c.mu.RUnlock()
	if !ok || !c.now().Before(e.expires) {
		var zero V
		return zero, false
	}
	return e.v, true
}

func (c *ttlCache[V]) put(key string, v V) { c.putUntil(key, v, c.now().Add(c.ttl)) }

// putUntil caches v until expires or ttl from now, whichever is sooner.
func (c *ttlCache[V]) putUntil(key string, v V, expires time.Time) {
	c.store(key, v, expires, false, 0)
}

// store caches v until expires or ttl from now, whichever is sooner. A
// writer always stores and counts as a change; a load (fromLoad) stores
// only when no writer changed the cache since it began, at generation gen.
func (c *ttlCache[V]) store(key string, v V, expires time.Time, fromLoad bool, gen uint64) {
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

// forget drops key, so this process sees a change at once (other processes
// within ttl).
func (c *ttlCache[V]) forget(key string) {
	c.mu.Lock()
	c.gen++
	delete(c.m, key)
	c.mu.Unlock()
	c.sf.Forget(key)
}
