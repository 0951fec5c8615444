// Package cachetest is the conformance suite every cache.Cache
// implementation passes: the kernel's Memory and Redis caches, and any
// implementation of your own.
//
//	func TestMyCache(t *testing.T) {
//		cachetest.Exercise(t, func(t *testing.T) cache.Cache { return newMyCache(t) })
//	}
package cachetest

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"appkernel/cache"
)

// Exercise runs the conformance suite against caches made by newCache. Each
// subtest calls newCache once and expects an empty cache that no other
// subtest sees (for Redis: a unique key prefix); newCache registers its own
// cleanup with t.Cleanup. Subtests run in parallel.
func Exercise(t *testing.T, newCache func(t *testing.T) cache.Cache) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.run(t, newCache(t))
		})
	}
}

type widget struct {
	ID      string            `json:"id"`
	Count   int               `json:"count"`
	Price   float64           `json:"price"`
	Tags    []string          `json:"tags"`
	Attrs   map[string]string `json:"attrs"`
	Made    time.Time         `json:"made"`
	Nested  *widget           `json:"nested,omitempty"`
	Enabled bool              `json:"enabled"`
}

func sample() widget {
	return widget{
		ID: "w1", Count: 42, Price: 9.5,
		Tags:  []string{"a", "b"},
		Attrs: map[string]string{"color": "red"},
		Made:  time.Date(2024, 5, 6, 7, 8, 9, 123456789, time.UTC),
		Nested: &widget{ID: "inner", Tags: []string{}, Attrs: map[string]string{},
			Made: time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)},
		Enabled: true,
	}
}

var cases = []struct {
	name string
	run  func(t *testing.T, c cache.Cache)
}{
	{"RoundTripStruct", roundTripStruct},
	{"RoundTripScalars", roundTripScalars},
	{"Miss", miss},
	{"Overwrite", overwrite},
	{"ReturnsCopy", returnsCopy},
	{"TTLExpiry", ttlExpiry},
	{"NegativeTTL", negativeTTL},
	{"Delete", deleteKey},
	{"DecodeMismatch", decodeMismatch},
	{"EncodeError", encodeError},
	{"Concurrent", concurrent},
	{"GetOrLoadCaches", getOrLoadCaches},
	{"GetOrLoadSingleFlight", getOrLoadSingleFlight},
	{"GetOrLoadErrorNotCached", getOrLoadErrorNotCached},
	{"GetOrLoadPanic", getOrLoadPanic},
	{"GetOrLoadCallerCancel", getOrLoadCallerCancel},
	{"GetOrLoadReplacesUndecodable", getOrLoadReplacesUndecodable},
}

func mustSet(t *testing.T, c cache.Cache, key string, v any, ttl time.Duration) {
	t.Helper()
	if err := c.Set(context.Background(), key, v, ttl); err != nil {
		t.Fatalf("Set(%q): %v", key, err)
	}
}

func mustGet(t *testing.T, c cache.Cache, key string, dst any) bool {
	t.Helper()
	ok, err := c.Get(context.Background(), key, dst)
	if err != nil {
		t.Fatalf("Get(%q): %v", key, err)
	}
	return ok
}

func roundTripStruct(t *testing.T, c cache.Cache) {
	want := sample()
	mustSet(t, c, "widget:1", want, time.Minute)
	var got widget
	if !mustGet(t, c, "widget:1", &got) {
		t.Fatal("Get after Set: miss, want hit")
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("round trip:\n got %+v\nwant %+v", got, want)
	}
	// A pointer to a struct is stored as the struct.
	mustSet(t, c, "widget:2", &want, 0)
	var got2 *widget
	if !mustGet(t, c, "widget:2", &got2) || !reflect.DeepEqual(*got2, want) {
		t.Fatalf("pointer round trip: got %+v, want %+v", got2, want)
	}
}

func roundTripScalars(t *testing.T, c cache.Cache) {
	mustSet(t, c, "s", "hello", time.Minute)
	mustSet(t, c, "n", 12345678901, time.Minute)
	mustSet(t, c, "m", map[string]int{"a": 1}, time.Minute)
	var s string
	var n int64
	var m map[string]int
	if !mustGet(t, c, "s", &s) || s != "hello" {
		t.Errorf("string: got %q", s)
	}
	if !mustGet(t, c, "n", &n) || n != 12345678901 {
		t.Errorf("int64: got %d", n)
	}
	if !mustGet(t, c, "m", &m) || m["a"] != 1 || len(m) != 1 {
		t.Errorf("map: got %v", m)
	}
}

func miss(t *testing.T, c cache.Cache) {
	dst := widget{ID: "untouched"}
	ok, err := c.Get(context.Background(), "never-set", &dst)
	if ok || err != nil {
		t.Fatalf("Get of a missing key = (%v, %v), want (false, nil)", ok, err)
	}
	if dst.ID != "untouched" {
		t.Fatalf("a miss changed dst to %+v", dst)
	}
}

func overwrite(t *testing.T, c cache.Cache) {
	mustSet(t, c, "k", "first", time.Minute)
	mustSet(t, c, "k", "second", time.Minute)
	var s string
	if !mustGet(t, c, "k", &s) || s != "second" {
		t.Fatalf("after overwrite got %q, want second", s)
	}
	// Overwriting with no TTL keeps the entry past the old one's expiry.
	mustSet(t, c, "short", 1, 50*time.Millisecond)
	mustSet(t, c, "short", 2, 0)
	time.Sleep(120 * time.Millisecond)
	var n int
	if !mustGet(t, c, "short", &n) || n != 2 {
		t.Fatalf("entry re-set without TTL expired (got %d)", n)
	}
}

func returnsCopy(t *testing.T, c cache.Cache) {
	v := sample()
	mustSet(t, c, "k", v, time.Minute)
	v.Tags[0] = "mutated"
	v.Attrs["color"] = "blue"
	var got widget
	mustGet(t, c, "k", &got)
	if got.Tags[0] != "a" || got.Attrs["color"] != "red" {
		t.Fatalf("mutating the value after Set changed the cache: %+v", got)
	}
	got.Tags[1] = "mutated"
	var again widget
	mustGet(t, c, "k", &again)
	if again.Tags[1] != "b" {
		t.Fatalf("mutating a value from Get changed the cache: %+v", again)
	}
}

func ttlExpiry(t *testing.T, c cache.Cache) {
	mustSet(t, c, "short", "v", 150*time.Millisecond)
	mustSet(t, c, "long", "v", time.Minute)
	mustSet(t, c, "forever", "v", 0)
	var s string
	if !mustGet(t, c, "short", &s) {
		t.Fatal("entry missing before its TTL")
	}
	deadline := time.Now().Add(3 * time.Second)
	for mustGet(t, c, "short", &s) {
		if time.Now().After(deadline) {
			t.Fatal("entry still present 3s after a 150ms TTL")
		}
		time.Sleep(25 * time.Millisecond)
	}
	if !mustGet(t, c, "long", &s) || !mustGet(t, c, "forever", &s) {
		t.Fatal("entries with a longer or no TTL expired with the short one")
	}
}

func negativeTTL(t *testing.T, c cache.Cache) {
	err := c.Set(context.Background(), "k", "v", -time.Second)
	if !errors.Is(err, cache.ErrInvalidTTL) {
		t.Fatalf("Set with negative ttl: err = %v, want ErrInvalidTTL", err)
	}
	var s string
	if mustGet(t, c, "k", &s) {
		t.Fatal("a refused Set stored the value")
	}
}

func deleteKey(t *testing.T, c cache.Cache) {
	ctx := context.Background()
	mustSet(t, c, "k", "v", time.Minute)
	mustSet(t, c, "other", "v", time.Minute)
	if err := c.Delete(ctx, "k"); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	var s string
	if mustGet(t, c, "k", &s) {
		t.Fatal("Get after Delete: hit, want miss")
	}
	if !mustGet(t, c, "other", &s) {
		t.Fatal("Delete removed another key")
	}
	if err := c.Delete(ctx, "never-set"); err != nil {
		t.Fatalf("Delete of a missing key: %v, want nil", err)
	}
}

func decodeMismatch(t *testing.T, c cache.Cache) {
	mustSet(t, c, "k", "a string", time.Minute)
	var n int
	ok, err := c.Get(context.Background(), "k", &n)
	if err == nil || ok {
		t.Fatalf("Get of a string into *int = (%v, %v), want (false, error)", ok, err)
	}
	var notPointer widget
	if _, err := c.Get(context.Background(), "k", notPointer); err == nil {
		t.Fatal("Get into a non-pointer: want an error")
	}
}

func encodeError(t *testing.T, c cache.Cache) {
	if err := c.Set(context.Background(), "k", make(chan int), time.Minute); err == nil {
		t.Fatal("Set of a channel: want an encoding error")
	}
	var s string
	if mustGet(t, c, "k", &s) {
		t.Fatal("a value that failed to encode was stored")
	}
}

func concurrent(t *testing.T, c cache.Cache) {
	ctx := context.Background()
	const goroutines, ops = 16, 200
	var wg sync.WaitGroup
	errs := make(chan error, goroutines)
	for g := range goroutines {
		wg.Go(func() {
			for i := range ops {
				shared := fmt.Sprintf("shared:%d", i%8)
				own := fmt.Sprintf("own:%d:%d", g, i%16)
				if err := c.Set(ctx, shared, widget{ID: shared, Count: g}, time.Minute); err != nil {
					errs <- err
					return
				}
				if err := c.Set(ctx, own, i, time.Minute); err != nil {
					errs <- err
					return
				}
				var w widget
				if ok, err := c.Get(ctx, shared, &w); err != nil || !ok || w.ID != shared {
					errs <- fmt.Errorf("Get(%s) = %v, %v, %+v", shared, ok, err, w)
					return
				}
				var n int
				if ok, err := c.Get(ctx, own, &n); err != nil || !ok || n != i {
					errs <- fmt.Errorf("Get(%s) = %v, %v, %d; want %d", own, ok, err, n, i)
					return
				}
				if i%5 == 0 {
					if err := c.Delete(ctx, own); err != nil {
						errs <- err
						return
					}
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

func getOrLoadCaches(t *testing.T, c cache.Cache) {
	ctx := context.Background()
	var calls atomic.Int32
	load := func(context.Context) (widget, error) {
		calls.Add(1)
		return sample(), nil
	}
	for i := range 3 {
		got, err := cache.GetOrLoad(ctx, c, "w", time.Minute, load)
		if err != nil || !reflect.DeepEqual(got, sample()) {
			t.Fatalf("call %d: GetOrLoad = %+v, %v", i, got, err)
		}
	}
	if n := calls.Load(); n != 1 {
		t.Fatalf("loader called %d times for 3 sequential calls, want 1", n)
	}
	var stored widget
	if !mustGet(t, c, "w", &stored) {
		t.Fatal("GetOrLoad did not store the loaded value")
	}
}

func getOrLoadSingleFlight(t *testing.T, c cache.Cache) {
	ctx := context.Background()
	const callers = 100
	var calls atomic.Int32
	release := make(chan struct{})
	load := func(context.Context) (widget, error) {
		calls.Add(1)
		<-release // hold the load open until every caller has missed
		return sample(), nil
	}
	var started, wg sync.WaitGroup
	started.Add(callers)
	results := make(chan error, callers)
	for range callers {
		wg.Go(func() {
			started.Done()
			got, err := cache.GetOrLoad(ctx, c, "hot", time.Minute, load)
			if err == nil && !reflect.DeepEqual(got, sample()) {
				err = fmt.Errorf("got %+v", got)
			}
			results <- err
		})
	}
	started.Wait()
	// Callers that have not reached the flight yet still join it or find
	// the stored value; a short pause lets most of them block on the load.
	time.Sleep(50 * time.Millisecond)
	close(release)
	wg.Wait()
	close(results)
	for err := range results {
		if err != nil {
			t.Error(err)
		}
	}
	if n := calls.Load(); n != 1 {
		t.Fatalf("%d concurrent misses called the loader %d times, want 1", callers, n)
	}
}

func getOrLoadErrorNotCached(t *testing.T, c cache.Cache) {
	ctx := context.Background()
	boom := errors.New("boom")
	var calls atomic.Int32
	load := func(context.Context) (int, error) {
		if calls.Add(1) == 1 {
			return 0, boom
		}
		return 7, nil
	}
	if _, err := cache.GetOrLoad(ctx, c, "k", time.Minute, load); !errors.Is(err, boom) {
		t.Fatalf("first call: err = %v, want the loader's error", err)
	}
	var n int
	if mustGet(t, c, "k", &n) {
		t.Fatal("a failed load stored a value")
	}
	got, err := cache.GetOrLoad(ctx, c, "k", time.Minute, load)
	if err != nil || got != 7 {
		t.Fatalf("second call = %d, %v; want 7, nil (the error must not be cached)", got, err)
	}
	if calls.Load() != 2 {
		t.Fatalf("loader called %d times, want 2", calls.Load())
	}
}

func getOrLoadPanic(t *testing.T, c cache.Cache) {
	ctx := context.Background()
	func() {
		defer func() {
			r := recover()
			if r == nil {
				t.Fatal("a loader panic did not reach the caller")
			}
			if err, ok := r.(error); !ok || !containsAll(err.Error(), "loader panicked", "kaboom") {
				t.Fatalf("recovered %v, want an error naming the loader's panic", r)
			}
		}()
		_, _ = cache.GetOrLoad(ctx, c, "p", time.Minute, func(context.Context) (int, error) { panic("kaboom") })
	}()
	// The key is not poisoned: the next load runs and is cached.
	got, err := cache.GetOrLoad(ctx, c, "p", time.Minute, func(context.Context) (int, error) { return 3, nil })
	if err != nil || got != 3 {
		t.Fatalf("after a panic: GetOrLoad = %d, %v; want 3, nil", got, err)
	}
}

func getOrLoadCallerCancel(t *testing.T, c cache.Cache) {
	release := make(chan struct{})
	loaded := make(chan struct{})
	var once sync.Once
	load := func(ctx context.Context) (int, error) {
		once.Do(func() { close(loaded) })
		<-release
		// The loader's context outlives the caller that started it.
		if err := ctx.Err(); err != nil {
			return 0, err
		}
		return 11, nil
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		_, err := cache.GetOrLoad(ctx, c, "k", time.Minute, load)
		done <- err
	}()
	<-loaded
	cancel()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("cancelled caller: err = %v, want context.Canceled", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("a cancelled caller kept waiting for the load")
	}
	// A second caller joins the still-running load and gets its value.
	second := make(chan int, 1)
	go func() {
		v, _ := cache.GetOrLoad(context.Background(), c, "k", time.Minute, load)
		second <- v
	}()
	time.Sleep(20 * time.Millisecond)
	close(release)
	if v := <-second; v != 11 {
		t.Fatalf("second caller got %d, want 11 from the shared load", v)
	}
}

func getOrLoadReplacesUndecodable(t *testing.T, c cache.Cache) {
	// An entry written with another shape (an older release, another type)
	// is treated as a miss: loaded again and overwritten.
	mustSet(t, c, "k", "not a number", time.Minute)
	got, err := cache.GetOrLoad(context.Background(), c, "k", time.Minute, func(context.Context) (int, error) { return 5, nil })
	if err != nil || got != 5 {
		t.Fatalf("GetOrLoad over an undecodable entry = %d, %v; want 5, nil", got, err)
	}
	var n int
	if !mustGet(t, c, "k", &n) || n != 5 {
		t.Fatalf("undecodable entry not replaced: got %d", n)
	}
}

func containsAll(s string, subs ...string) bool {
	for _, sub := range subs {
		if !strings.Contains(s, sub) {
			return false
		}
	}
	return true
}
