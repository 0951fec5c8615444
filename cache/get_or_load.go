package cache

import (
	"context"
	"fmt"
	"runtime/debug"
	"time"
)

// GetOrLoad returns the value cached under key, or calls load, caches what
// it returns for ttl and returns it.
//
// Concurrent misses of one key on one cache share a single call of load (on
// Memory, Redis, and any implementation embedding SingleFlight); with Redis
// the sharing is per process. The loader's error is returned to every caller
// that waited for it and is not cached: the next call loads again.
//
// load runs with a context that carries ctx's values but not its
// cancellation, because its result is shared by callers other than the one
// that started it; it should bound its own work. A caller whose ctx ends
// while waiting returns ctx.Err() without stopping the load. A panic in load
// is raised again in every caller that waited for it.
//
// A Delete does not stop a load already running: a load that read the
// source before a write and stores after the write's Delete keeps the old
// value for ttl. Choose ttl as the staleness the data allows, or Set the
// new value after a write instead of deleting it.
//
// The cache is an optimization here, not a dependency: when reading the
// cache fails (Redis unreachable, an entry that no longer decodes into T)
// the value is loaded, and when storing it fails the loaded value is still
// returned.
func GetOrLoad[T any](ctx context.Context, c Cache, key string, ttl time.Duration, load func(ctx context.Context) (T, error)) (T, error) {
	var v T
	ok, getErr := c.Get(ctx, key, &v)
	if ok && getErr == nil {
		return v, nil
	}
	if err := checkTTL(ttl); err != nil {
		var zero T
		return zero, err
	}

	loadAndStore := func() (any, error) {
		lctx := context.WithoutCancel(ctx)
		// A caller that missed just as another's load finished finds the
		// stored value here instead of loading a second time. A cache that
		// just failed is not asked again (a dead Redis costs a timeout).
		if getErr == nil {
			var cached T
			if ok, err := c.Get(lctx, key, &cached); ok && err == nil {
				return cached, nil
			}
		}
		v, err := callLoader(lctx, load)
		if err != nil {
			return nil, err
		}
		_ = c.Set(lctx, key, v, ttl)
		return v, nil
	}

	f, ok := c.(flighter)
	if !ok {
		return result[T](loadAndStore())
	}
	ch := f.flightGroup().DoChan(key, loadAndStore)
	select {
	case res := <-ch:
		if res.Err != nil {
			return result[T](nil, res.Err)
		}
		if lv, ok := res.Val.(T); ok {
			return lv, nil
		}
		// Another caller loaded the same key as a different type: load our own.
		return result[T](loadAndStore())
	case <-ctx.Done():
		var zero T
		return zero, ctx.Err()
	}
}

// loaderPanic carries a panic out of a shared load so that each waiting
// caller can raise it in its own goroutine (singleflight's DoChan would
// otherwise crash the process from a goroutine nobody can recover).
type loaderPanic struct {
	value any
	stack []byte
}

func (p *loaderPanic) Error() string {
	return fmt.Sprintf("cache: loader panicked: %v\n\n%s", p.value, p.stack)
}

func callLoader[T any](ctx context.Context, load func(context.Context) (T, error)) (v T, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = &loaderPanic{value: r, stack: debug.Stack()}
		}
	}()
	return load(ctx)
}

func result[T any](v any, err error) (T, error) {
	if p, ok := err.(*loaderPanic); ok {
		panic(p)
	}
	if err != nil {
		var zero T
		return zero, err
	}
	tv, _ := v.(T)
	return tv, nil
}
