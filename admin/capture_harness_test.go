package admin_test

import (
	"context"
	"sync"
	"testing"

	"appkernel/admin"
	"appkernel/db"
	"appkernel/db/dbtest"
)

// The capture and query tests' helpers (names carry "capture" or "query"
// so they do not meet the worker tests' own).

// captureSink keeps every event it is given, in order.
type captureSink struct {
	mu     sync.Mutex
	events []admin.Event
}

func (s *captureSink) Emit(e admin.Event) {
	s.mu.Lock()
	s.events = append(s.events, e)
	s.mu.Unlock()
}

// take returns the events so far and forgets them.
func (s *captureSink) take() []admin.Event {
	s.mu.Lock()
	defer s.mu.Unlock()
	ev := s.events
	s.events = nil
	return ev
}

// captureDialects runs fn as a parallel subtest on a fresh store of each
// database; Postgres and MySQL skip (or fail under
// APPKERNEL_TEST_REQUIRE_SERVICES=1) without their URLs.
func captureDialects(t *testing.T, fn func(t *testing.T, store *db.Store)) {
	dbtest.ForEachDialect(t, func(t *testing.T, dialect string) {
		s, err := db.Open(context.Background(), dbtest.Fresh(t, dialect))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		fn(t, s)
	})
}

// queryDialects is captureDialects on a store with the admin tables.
func queryDialects(t *testing.T, fn func(t *testing.T, store *db.Store)) {
	captureDialects(t, func(t *testing.T, store *db.Store) {
		if err := admin.Migrate(context.Background(), store); err != nil {
			t.Fatal(err)
		}
		fn(t, store)
	})
}
