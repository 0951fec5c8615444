package apikeys_test

import (
	"context"
	"net/http"
	"sync"
	"testing"
	"time"

	"appkernel/apikeys"
	"appkernel/db"
	"appkernel/db/dbtest"
)

// Two instances of a service share the database and Redis; each caches
// keys for a minute. A revoke on one reaches the other through Redis well
// before that.
func TestRevokeReachesOtherInstanceThroughRedis(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, dialect string) {
		rdb, prefix := redisClient(t)
		a := newHarness(t, dialect, withTTL(apikeys.MaxCacheTTL), withRedis(rdb, prefix))
		b := newHarnessOn(t, a.store, a.clock, withTTL(apikeys.MaxCacheTTL), withRedis(rdb, prefix))
		alice := a.register("alice@example.com")
		k := a.createKey(alice.AccessToken, map[string]any{"name": "k"})
		b.do("GET", "/whoami", nil, bearer(k.Secret)...).expect(t, http.StatusOK, nil) // cached on b

		a.do("DELETE", "/auth/api-keys/"+k.ID, nil, bearer(alice.AccessToken)...).expect(t, http.StatusNoContent, nil)
		a.do("GET", "/whoami", nil, bearer(k.Secret)...).expectError(t, http.StatusUnauthorized, "invalid_token")
		eventually(t, 5*time.Second, "revocation reaches the other instance", func() bool {
			return b.do("GET", "/whoami", nil, bearer(k.Secret)...).status == http.StatusUnauthorized
		})
	})
}

// Without Redis a revoke reaches the other instance when its cache entry
// expires, within CacheTTL.
func TestRevokeReachesOtherInstanceWithinTTL(t *testing.T) {
	const ttl = 300 * time.Millisecond
	a := newHarness(t, "sqlite", withTTL(ttl))
	b := newHarnessOn(t, a.store, a.clock, withTTL(ttl))
	alice := a.register("alice@example.com")
	k := a.createKey(alice.AccessToken, map[string]any{"name": "k"})
	b.do("GET", "/whoami", nil, bearer(k.Secret)...).expect(t, http.StatusOK, nil)
	revoked := time.Now()
	a.do("DELETE", "/auth/api-keys/"+k.ID, nil, bearer(alice.AccessToken)...).expect(t, http.StatusNoContent, nil)
	eventually(t, 5*time.Second, "revocation reaches the other instance", func() bool {
		return b.do("GET", "/whoami", nil, bearer(k.Secret)...).status == http.StatusUnauthorized
	})
	// The bound itself: the entry was cached before the revoke, so it
	// cannot outlive revoked+ttl (plus a request's time).
	if d := time.Since(revoked); d > ttl+2*time.Second {
		t.Fatalf("took %s", d)
	}
}

// lastUsed reads the key's last_used_at straight from the table.
func lastUsed(t *testing.T, store *db.Store, id string) string {
	t.Helper()
	e, err := store.GetEntity(context.Background(), apikeys.Table, id)
	if err != nil {
		t.Fatal(err)
	}
	s, _ := e["last_used_at"].(string)
	return s
}

// A key's last use is written at most once a minute, also when two
// instances see it; the writes happen off the request path.
func TestLastUsedThrottled(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, dialect string) {
		a := newHarness(t, dialect)
		b := newHarnessOn(t, a.store, a.clock)
		alice := a.register("alice@example.com")
		k := a.createKey(alice.AccessToken, map[string]any{"name": "k"})
		probe := a.createKey(alice.AccessToken, map[string]any{"name": "probe"})
		if lastUsed(t, a.store, k.ID) != "" {
			t.Fatal("a new key has a last use")
		}
		// flush waits for h's writer: its queue is FIFO, so once the probe
		// key's use at the current time is written, every earlier one is.
		// Each flush goes further ahead, so its probe write is due on every
		// instance and in the table.
		ahead := time.Duration(0)
		flush := func(h *harness) {
			t.Helper()
			ahead += 2 * time.Minute
			h.clock.advance(ahead)
			want := db.FormatTime(h.clock.now())
			h.do("GET", "/whoami", nil, bearer(probe.Secret)...).expect(t, http.StatusOK, nil)
			eventually(t, 5*time.Second, "probe key's use written", func() bool { return lastUsed(t, h.store, probe.ID) >= want[:16] })
			h.clock.advance(-ahead)
		}

		t0 := db.FormatTime(a.clock.now())
		a.do("GET", "/whoami", nil, bearer(k.Secret)...).expect(t, http.StatusOK, nil)
		eventually(t, 5*time.Second, "first use written", func() bool { return lastUsed(t, a.store, k.ID) != "" })
		first := lastUsed(t, a.store, k.ID)
		if first < t0 {
			t.Fatalf("last use %s before the request at %s", first, t0)
		}

		// 10 s later, on this instance and on another: not written.
		a.clock.advance(10 * time.Second)
		a.do("GET", "/whoami", nil, bearer(k.Secret)...).expect(t, http.StatusOK, nil)
		b.do("GET", "/whoami", nil, bearer(k.Secret)...).expect(t, http.StatusOK, nil)
		flush(a)
		flush(b)
		if got := lastUsed(t, a.store, k.ID); got != first {
			t.Fatalf("last use %s rewritten within a minute (was %s)", got, first)
		}

		// A minute on: written again.
		a.clock.advance(61 * time.Second)
		a.do("GET", "/whoami", nil, bearer(k.Secret)...).expect(t, http.StatusOK, nil)
		eventually(t, 5*time.Second, "use a minute later written", func() bool { return lastUsed(t, a.store, k.ID) > first })

		var list []apikeys.Key
		a.do("GET", "/auth/api-keys", nil, bearer(alice.AccessToken)...).expect(t, http.StatusOK, &list)
		for _, l := range list {
			if l.ID == k.ID && l.LastUsedAt == nil {
				t.Fatal("list shows no last use")
			}
		}
	})
}

// Many requests with one key while it is revoked: every request after the
// revoke returned is refused, none fails otherwise (-race).
func TestConcurrentUseAndRevoke(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, dialect string) {
		h := newHarness(t, dialect)
		alice := h.register("alice@example.com")
		k := h.createKey(alice.AccessToken, map[string]any{"name": "k", "scopes": []string{"widgets:read"}})
		other := h.createKey(alice.AccessToken, map[string]any{"name": "other", "scopes": []string{"widgets:read"}})

		var wg sync.WaitGroup
		revoked := make(chan struct{})
		errs := make(chan string, 64)
		for g := 0; g < 8; g++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := 0; i < 25; i++ {
					after := false
					select {
					case <-revoked:
						after = true
					default:
					}
					r := h.do("GET", "/scoped", nil, bearer(k.Secret)...)
					switch {
					case r.status == http.StatusOK && after:
						errs <- "a revoked key was accepted"
					case r.status != http.StatusOK && r.status != http.StatusUnauthorized:
						errs <- string(r.body)
					}
					if r := h.do("GET", "/scoped", nil, bearer(other.Secret)...); r.status != http.StatusOK {
						errs <- "other key: " + string(r.body)
					}
				}
			}()
		}
		time.Sleep(20 * time.Millisecond)
		h.do("DELETE", "/auth/api-keys/"+k.ID, nil, bearer(alice.AccessToken)...).expect(t, http.StatusNoContent, nil)
		close(revoked)
		wg.Wait()
		close(errs)
		for e := range errs {
			t.Fatal(e)
		}
	})
}
