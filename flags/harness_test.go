package flags_test

import (
	"context"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/redis/go-redis/v9"

	"appkernel/db"
	"appkernel/db/dbtest"
	"appkernel/flags"
)

// storeURL returns the URL of a fresh database of the dialect.
func storeURL(t testing.TB, dialect string) string {
	t.Helper()
	return dbtest.Fresh(t, dialect)
}

// open opens a store on url, closed when the test ends.
func open(t testing.TB, url string) *db.Store {
	t.Helper()
	s, err := db.Open(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// newService builds a Service on store, closed when the test ends.
func newService(t *testing.T, cfg flags.Config) *flags.Service {
	t.Helper()
	s, err := flags.New(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// redisClient connects to the test Redis; prefix is a namespace of the
// test's own, so tests sharing the server never hear each other.
func redisClient(t *testing.T, url string) (rdb *redis.Client, prefix string) {
	t.Helper()
	opt, err := redis.ParseURL(url)
	if err != nil {
		t.Fatal(err)
	}
	rdb = redis.NewClient(opt)
	t.Cleanup(func() { rdb.Close() })
	return rdb, "test-" + uuid.NewString() + ":"
}

// eventually waits up to bound for cond, and fails the test with what
// otherwise.
func eventually(t *testing.T, bound time.Duration, what string, cond func() bool) time.Duration {
	t.Helper()
	start := time.Now()
	for !cond() {
		if time.Since(start) > bound {
			t.Fatalf("%s: not within %s", what, bound)
		}
		time.Sleep(5 * time.Millisecond)
	}
	return time.Since(start)
}
