package admin_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"appkernel/admin"
	"appkernel/db"
	"appkernel/db/dbtest"
	"appkernel/internal/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// forEachDialect runs fn as a parallel subtest per dialect on a fresh,
// migrated admin database.
func forEachDialect(t *testing.T, fn func(t *testing.T, store *db.Store)) {
	t.Helper()
	for _, d := range dbtest.Dialects {
		t.Run(d, func(t *testing.T) {
			t.Parallel()
			fn(t, openStore(t, d))
		})
	}
}

func openStore(t testing.TB, dialect string) *db.Store {
	t.Helper()
	url := dbtest.Fresh(t, dialect)
	store, err := db.Open(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	if err := admin.Migrate(context.Background(), store); err != nil {
		t.Fatal(err)
	}
	return store
}

// redisClient connects to the test Redis and deletes the keys under
// prefix when the test ends.
func redisClient(t testing.TB, prefix string) *redis.Client {
	t.Helper()
	opt, err := redis.ParseURL(testenv.RedisURL(t))
	if err != nil {
		t.Fatal(err)
	}
	rdb := redis.NewClient(opt)
	t.Cleanup(func() {
		ctx := context.Background()
		keys, _ := rdb.Keys(ctx, prefix+"*").Result()
		if len(keys) > 0 {
			rdb.Del(ctx, keys...)
		}
		rdb.Close()
	})
	return rdb
}

var seq atomic.Int64

// newPrefix is a Redis key prefix no other test uses.
func newPrefix(t testing.TB) string {
	return fmt.Sprintf("admintest:%d:%d:", time.Now().UnixNano(), seq.Add(1))
}

// eventID is a unique event id.
func eventID() string {
	return fmt.Sprintf("ev-%d-%d", time.Now().UnixNano(), seq.Add(1))
}

var day = time.Date(2026, 12, 6, 10, 30, 0, 0, time.UTC)

// requestEvent is a metered request of user in workspace ws.
func requestEvent(user, ws string) admin.Event {
	return admin.Event{ID: eventID(), Kind: admin.KindRequest, App: "svc", Time: day,
		UserID: user, WorkspaceID: ws, Method: "GET", Route: "/widgets/{id}", Status: 200, LatencyUS: 120, BytesOut: 42}
}

// count is the number of rows of table.
func count(t testing.TB, store *db.Store, table string) int {
	t.Helper()
	var n int
	if err := store.DB().QueryRow("SELECT COUNT(*) FROM " + table).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// aggregate is the value of one usage_aggregates row, 0 when absent.
func aggregate(t testing.TB, store *db.Store, app, ws, user, metric, period string) int64 {
	t.Helper()
	q := "SELECT value FROM usage_aggregates WHERE app = ? AND workspace_id = ? AND user_id = ? AND metric = ? AND period = ?"
	if store.Dialect() == db.Postgres {
		q = "SELECT value FROM usage_aggregates WHERE app = $1 AND workspace_id = $2 AND user_id = $3 AND metric = $4 AND period = $5"
	}
	var v int64
	err := store.DB().QueryRow(q, app, ws, user, metric, period).Scan(&v)
	if err != nil && err.Error() != "sql: no rows in result set" {
		t.Fatal(err)
	}
	return v
}

// waitFor polls cond until it holds or the timeout passes.
func waitFor(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
