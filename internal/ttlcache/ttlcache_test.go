package ttlcache

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"
)

type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }

func (c *fakeClock) add(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

func TestTTLCacheExpiry(t *testing.T) {
	t.Parallel()
	clock := &fakeClock{t: time.Unix(1_700_000_000, 0)}
	c := New[string](10*time.Second, clock.now, 3)
	// putUntil keeps the sooner of its deadline and the TTL: a verified
	// token is never remembered past its exp.
	c.PutUntil("tok", "claims", clock.now().Add(2*time.Second))
	c.PutUntil("long", "claims", clock.now().Add(time.Hour))
	clock.add(1999 * time.Millisecond)
	if _, ok := c.Lookup("tok"); !ok {
		t.Fatal("entry gone before its deadline")
	}
	clock.add(time.Millisecond)
	if _, ok := c.Lookup("tok"); ok {
		t.Fatal("entry outlived its deadline (the token's exp)")
	}
	clock.add(8 * time.Second)
	if _, ok := c.Lookup("long"); ok {
		t.Fatal("entry outlived the cache TTL")
	}
	// Loads are cached, errors are not.
	loads := 0
	load := func(context.Context) (string, error) { loads++; return "v", nil }
	for range 3 {
		if v, err := c.Get(context.Background(), "k", load); v != "v" || err != nil {
			t.Fatal(v, err)
		}
	}
	if loads != 1 {
		t.Fatalf("%d loads for one key", loads)
	}
	boom := errors.New("boom")
	for range 2 {
		if _, err := c.Get(context.Background(), "e", func(context.Context) (string, error) { loads++; return "", boom }); !errors.Is(err, boom) {
			t.Fatal(err)
		}
	}
	if loads != 3 {
		t.Fatalf("errors were cached (%d loads)", loads)
	}
	// The size is bounded.
	for _, k := range []string{"a", "b", "c", "d", "e"} {
		c.Put(k, k)
	}
	if n := c.Len(); n > 3 {
		t.Fatalf("%d entries in a cache limited to 3", n)
	}
}

// TestTTLCacheLoadDoesNotUndoAWriter runs a load that read "live" before a
// session was revoked and returns after the revocation cached "ended": the
// revocation wins, in this and every later request of the process.
func TestTTLCacheLoadDoesNotUndoAWriter(t *testing.T) {
	t.Parallel()
	for _, writer := range []string{"put", "forget"} {
		c := New[string](time.Minute, time.Now, 100)
		started, release := make(chan struct{}), make(chan struct{})
		done := make(chan string)
		go func() {
			v, _ := c.Get(context.Background(), "sid", func(context.Context) (string, error) {
				close(started)
				<-release
				return "live", nil
			})
			done <- v
		}()
		<-started
		if writer == "put" {
			c.Put("sid", "ended")
		} else {
			c.Forget("sid")
		}
		close(release)
		if v := <-done; v != "live" {
			t.Fatalf("%s: the load itself returned %q", writer, v)
		}
		got, ok := c.Lookup("sid")
		switch {
		case writer == "put" && got != "ended":
			t.Errorf("put during a load: cache holds %q (%v), want the writer's ended", got, ok)
		case writer == "forget" && ok:
			t.Errorf("forget during a load: cache holds %q, want nothing", got)
		}
		// A load that began after the writer is cached as usual.
		c.Forget("other")
		if v, _ := c.Get(context.Background(), "k2", func(context.Context) (string, error) { return "x", nil }); v != "x" {
			t.Fatal(v)
		}
		if v, ok := c.Lookup("k2"); !ok || v != "x" {
			t.Errorf("%s: a later load was not cached", writer)
		}
	}
}
