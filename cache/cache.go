// Package cache stores JSON-encodable values under string keys for a time.
//
// Two implementations satisfy the Cache interface: Redis (shared by every
// process of a service) and Memory (one process, bounded, the kernel's
// fallback when no Redis is configured). GetOrLoad puts a loader in front of
// either one so that concurrent misses of a key run the loader once.
//
// Values are stored as JSON in both implementations, so a value read back is
// a copy that has gone through encoding/json: unexported fields are dropped
// and the destination passed to Get must be a pointer, exactly as for
// json.Unmarshal. Code that works against Memory works against Redis.
package cache

import (
	"context"
	"errors"
	"net/http"
	"time"

	"golang.org/x/sync/singleflight"
)

// Cache is a key-value cache with per-entry time to live.
//
// Get reports whether key was present; on a hit it decodes the value into
// dst, which must be a non-nil pointer. A miss is (false, nil), never an
// error, and leaves dst untouched.
//
// Set stores v under key for ttl. A ttl of 0 keeps the entry until it is
// deleted or evicted; a negative ttl is an error (ErrInvalidTTL).
//
// Delete removes key; deleting a missing key is not an error.
//
// Implementations are safe for concurrent use.
type Cache interface {
	Get(ctx context.Context, key string, dst any) (bool, error)
	Set(ctx context.Context, key string, v any, ttl time.Duration) error
	Delete(ctx context.Context, key string) error
}

// ErrInvalidTTL is returned by Set when the ttl is negative.
var ErrInvalidTTL = errors.New("cache: ttl must not be negative (use 0 for no expiry)")

// ErrUnavailable is wrapped by the error of a Redis cache call that could
// not reach Redis (refused, reset, timed out, or the kernel's breaker open
// after such a failure). Over HTTP (middleware.WriteError) it is 503
// cache_unavailable. GetOrLoad does not return it: it loads instead.
var ErrUnavailable error = unavailableError{}

type unavailableError struct{}

func (unavailableError) Error() string     { return "cache: Redis is unavailable" }
func (unavailableError) HTTPStatus() int   { return http.StatusServiceUnavailable }
func (unavailableError) ErrorCode() string { return "cache_unavailable" }

// SingleFlight gives a Cache implementation of your own the single-flight
// behaviour of GetOrLoad: embed it (as a value, and use the implementation
// through a pointer) and concurrent GetOrLoad misses of one key on that cache
// run the loader once. Without it GetOrLoad still works, but every
// concurrent miss runs its own loader. Memory and Redis have one built in.
//
// The zero value is ready to use. A SingleFlight must not be copied after
// first use.
type SingleFlight struct {
	group singleflight.Group
}

func (f *SingleFlight) flightGroup() *singleflight.Group { return &f.group }

// flighter is how GetOrLoad, a free function, finds the group of the cache
// it was given: the group belongs to the cache value, never to the package.
type flighter interface {
	flightGroup() *singleflight.Group
}

var (
	_ flighter = (*SingleFlight)(nil)
	_ flighter = (*Memory)(nil)
	_ flighter = (*Redis)(nil)
	_ Cache    = (*Memory)(nil)
	_ Cache    = (*Redis)(nil)
)

func checkTTL(ttl time.Duration) error {
	if ttl < 0 {
		return ErrInvalidTTL
	}
	return nil
}
