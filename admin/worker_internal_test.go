package admin

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"appkernel/db"
	"appkernel/db/dbtest"
	"appkernel/internal/testenv"
)

// A worker that dies after its commit and before its acknowledgement
// leaves the entries pending; another worker claims them (XAUTOCLAIM),
// persists them again and acknowledges them, and no event is counted twice.
func TestWorkerDiedBeforeAckDoesNotDoubleCount(t *testing.T) {
	for _, dialect := range []string{"sqlite", "postgres", "mysql"} {
		t.Run(dialect, func(t *testing.T) {
			t.Parallel()
			url := dbtest.Fresh(t, dialect)
			testWorkerDiedBeforeAck(t, url)
		})
	}
}

func testWorkerDiedBeforeAck(t *testing.T, url string) {
	ctx := context.Background()
	store, err := db.Open(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	if err := Migrate(ctx, store); err != nil {
		t.Fatal(err)
	}
	opt, err := redis.ParseURL(testenv.RedisURL(t))
	if err != nil {
		t.Fatal(err)
	}
	rdb := redis.NewClient(opt)
	defer rdb.Close()
	prefix := fmt.Sprintf("admintest:died:%s:%d:", t.Name(), time.Now().UnixNano())
	defer rdb.Del(ctx, prefix+streamSuffix)

	send := streamSender(rdb, prefix+streamSuffix, 1000)
	day := time.Date(2026, 12, 6, 1, 0, 0, 0, time.UTC)
	var events []Event
	for i := 0; i < 100; i++ {
		events = append(events, Event{ID: fmt.Sprintf("died-%d", i), Kind: KindRequest, App: "svc", Time: day, UserID: "u1", WorkspaceID: "w1"})
	}
	if err := send(ctx, [][]Event{events}); err != nil {
		t.Fatal(err)
	}

	// The first worker persists and "dies" at the acknowledgement.
	dying, _ := NewWorker(WorkerOptions{Redis: rdb, Prefix: prefix, Store: store, Consumer: "dying", Block: 20 * time.Millisecond, ClaimIdle: time.Hour})
	var died atomic.Int64
	dying.beforeAck = func(ids []string) error { died.Add(int64(len(ids))); return errors.New("killed") }
	if err := dying.Start(ctx); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for died.Load() < 100 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if err := dying.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	if got := requests(t, store); got != 100 {
		t.Fatalf("after the first worker's commit: %d requests; want 100", got)
	}
	pending, err := rdb.XPending(ctx, prefix+streamSuffix, "admin").Result()
	if err != nil || pending.Count != 100 {
		t.Fatalf("pending after the death: %+v, %v; want 100", pending, err)
	}

	// Another claims what stayed pending.
	heir, _ := NewWorker(WorkerOptions{Redis: rdb, Prefix: prefix, Store: store, Consumer: "heir", Block: 20 * time.Millisecond, ClaimIdle: 50 * time.Millisecond})
	if err := heir.Start(ctx); err != nil {
		t.Fatal(err)
	}
	defer heir.Stop(ctx)
	deadline = time.Now().Add(10 * time.Second)
	for heir.Handled() < 100 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if heir.Handled() != 100 {
		t.Fatalf("the heir handled %d entries; want 100", heir.Handled())
	}
	if got := requests(t, store); got != 100 {
		t.Errorf("after the claim: %d requests; want 100 (counted once)", got)
	}
	pending, err = rdb.XPending(ctx, prefix+streamSuffix, "admin").Result()
	if err != nil || pending.Count != 0 {
		t.Errorf("pending after the claim: %+v, %v; want none", pending, err)
	}
}

func requests(t *testing.T, store *db.Store) int64 {
	t.Helper()
	var v int64
	err := store.DB().QueryRow("SELECT value FROM usage_aggregates WHERE metric = 'requests' AND period = '2026-12'").Scan(&v)
	if err != nil {
		t.Fatal(err)
	}
	return v
}
