package apikeys

import (
	"context"
	"sync"
	"time"

	"golang.org/x/sync/singleflight"
)

// cacheLimit bounds the cached keys (found or not).
const cacheLimit = 100_000

// record is what verification needs of a stored key; id "" means no key
// has the hash.
type record struct {
	id, userID, workspaceID string
	scopes                  []string
	expires                 time.Time // zero: never
	revoked                 bool
}

// keyCache remembers key records by hash for at most ttl. Loads of one
// hash are coalesced. A load that overlapped a forget is not stored, so a
// revocation is never undone by a read that began before it.
type keyCache struct {
	ttl time.Duration
	now func() time.Time

	mu  sync.RWMutex
	m   map[string]cachedRecord
	gen uint64 // counts forgets; guarded by mu
	sf  singleflight.Group
}

type cachedRecord struct {
	rec     record
	expires time.Time
}

func newKeyCache(ttl time.Duration, now func() time.Time) *keyCache {
	return &keyCache{ttl: ttl, now: now, m: make(map[string]cachedRecord)}
}

func (c *keyCache) get(ctx context.Context, hash string, load func(context.Context, string) (record, error)) (record, error) {
	c.mu.RLock()
	e, ok := c.m[hash]
	c.mu.RUnlock()
	if ok && c.now().Before(e.expires) {
		return e.rec, nil
	}
	v, err, _ := c.sf.Do(hash, func() (any, error) {
		c.mu.RLock()
		gen := c.gen
		c.mu.RUnlock()
		rec, err := load(context.WithoutCancel(ctx), hash)
		if err != nil {
			return record{}, err
		}
		now := c.now()
		c.mu.Lock()
		defer c.mu.Unlock()
		if gen == c.gen {
			if len(c.m) >= cacheLimit {
				for k, e := range c.m {
					if !now.Before(e.expires) {
						delete(c.m, k)
					}
				}
				if len(c.m) >= cacheLimit {
					clear(c.m)
				}
			}
			c.m[hash] = cachedRecord{rec: rec, expires: now.Add(c.ttl)}
		}
		return rec, nil
	})
	if err != nil {
		return record{}, err
	}
	return v.(record), nil
}

// forget drops hash, so its next use reads the database.
func (c *keyCache) forget(hash string) {
	c.mu.Lock()
	c.gen++
	delete(c.m, hash)
	c.mu.Unlock()
	c.sf.Forget(hash)
}
