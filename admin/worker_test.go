package admin_test

import (
	"context"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"appkernel/admin"
	"appkernel/db"
	"appkernel/internal/redisguard"
	"appkernel/internal/testenv"
)

// startWorker starts a worker on the stream under prefix and stops it
// when the test ends.
func startWorker(t testing.TB, rdb redis.UniversalClient, prefix string, store *db.Store, opts admin.WorkerOptions) *admin.Worker {
	t.Helper()
	opts.Redis, opts.Prefix, opts.Store = rdb, prefix, store
	if opts.Block == 0 {
		opts.Block = 50 * time.Millisecond
	}
	w, err := admin.NewWorker(opts)
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { w.Stop(context.Background()) })
	return w
}

func startRecorder(t testing.TB, opts admin.RecorderOptions) *admin.Recorder {
	t.Helper()
	if opts.FlushInterval == 0 {
		opts.FlushInterval = 20 * time.Millisecond
	}
	rec, err := admin.NewRecorder(opts)
	if err != nil {
		t.Fatal(err)
	}
	if err := rec.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rec.Stop(context.Background()) })
	return rec
}

// Events from 1,000 concurrent Emits go through the stream and arrive in
// the admin database exactly once; two workers share the stream, each
// entry handled by one of them.
func TestStreamExactlyOnceTwoWorkers(t *testing.T) {
	forEachDialect(t, func(t *testing.T, store *db.Store) {
		prefix := newPrefix(t)
		rdb := redisClient(t, prefix)
		w1 := startWorker(t, rdb, prefix, store, admin.WorkerOptions{BatchSize: 50})
		w2 := startWorker(t, rdb, prefix, store, admin.WorkerOptions{BatchSize: 50})
		rec := startRecorder(t, admin.RecorderOptions{Redis: rdb, Prefix: prefix, BatchSize: 100})
		emitConcurrently(rec, 1000)
		if err := rec.Stop(context.Background()); err != nil {
			t.Fatal(err)
		}
		waitFor(t, 20*time.Second, "1000 handled events", func() bool { return w1.Handled()+w2.Handled() >= 1000 })
		time.Sleep(100 * time.Millisecond) // a duplicate delivery would show now
		if h1, h2 := w1.Handled(), w2.Handled(); h1+h2 != 1000 || h1 == 0 || h2 == 0 {
			t.Errorf("workers handled %d and %d entries; want 1000 in all, shared", h1, h2)
		}
		if n := count(t, store, admin.TableUsage); n != 1000 {
			t.Errorf("usage_events has %d rows; want 1000", n)
		}
		for _, period := range []string{"2026-12-06", "2026-12"} {
			if got := aggregate(t, store, "svc", "w1", "u1", "requests", period); got != 1000 {
				t.Errorf("requests for %s = %d; want 1000", period, got)
			}
		}
		// Acknowledged entries leave the stream and the group's pending list.
		if n := rdb.XLen(context.Background(), prefix+"events").Val(); n != 0 {
			t.Errorf("stream still holds %d entries", n)
		}
	})
}

// Events shipped before any worker ran are persisted once one starts.
func TestWorkerReadsEventsShippedBeforeIt(t *testing.T) {
	store := openStore(t, "sqlite")
	prefix := newPrefix(t)
	rdb := redisClient(t, prefix)
	rec := startRecorder(t, admin.RecorderOptions{Redis: rdb, Prefix: prefix})
	for i := 0; i < 20; i++ {
		rec.Emit(requestEvent("u1", "w1"))
	}
	if err := rec.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
	startWorker(t, rdb, prefix, store, admin.WorkerOptions{})
	waitFor(t, 10*time.Second, "20 events", func() bool { return aggregate(t, store, "svc", "w1", "u1", "requests", "2026-12") == 20 })
}

// With Redis down for 5 s, Emit returns at once, a small buffer counts
// its overflow, and events emitted after Redis returns arrive.
func TestRedisDownEmitNeverBlocks(t *testing.T) {
	srv := testenv.StartRedis(t)
	opt, err := redis.ParseURL(srv.URL())
	if err != nil {
		t.Fatal(err)
	}
	redisguard.PrepareOptions(opt)
	rdb := redis.NewClient(opt)
	guard := redisguard.Install(rdb, redisguard.Options{Interval: 100 * time.Millisecond})
	t.Cleanup(func() { guard.Close(); rdb.Close() })

	store := openStore(t, "sqlite")
	prefix := "down:admin:"
	w := startWorker(t, rdb, prefix, store, admin.WorkerOptions{MaxBackoff: 200 * time.Millisecond})
	rec := startRecorder(t, admin.RecorderOptions{Redis: rdb, Prefix: prefix, BufferSize: 100, BatchSize: 50, MaxBackoff: 200 * time.Millisecond})

	for i := 0; i < 10; i++ {
		rec.Emit(requestEvent("before", "w1"))
	}
	waitFor(t, 10*time.Second, "events before the outage", func() bool { return aggregate(t, store, "svc", "w1", "before", "requests", "2026-12") == 10 })

	srv.Kill()
	downUntil := time.Now().Add(5 * time.Second)
	var slowest time.Duration
	emitted := 0
	for time.Now().Before(downUntil) {
		for i := 0; i < 50; i++ {
			start := time.Now()
			rec.Emit(requestEvent("during", "w1"))
			slowest = max(slowest, time.Since(start))
			emitted++
		}
		time.Sleep(50 * time.Millisecond)
	}
	// Emit never waits on Redis (a dial, a retry): far under a millisecond
	// even on a loaded machine; Redis's own timeouts are seconds.
	if slowest > 100*time.Millisecond {
		t.Errorf("the slowest Emit while Redis was down took %s", slowest)
	}
	if rec.Dropped() == 0 {
		t.Errorf("emitted %d events into a buffer of 100 while Redis was down; none dropped", emitted)
	}
	srv.Restart()
	// Events emitted into a full buffer are dropped; once the Recorder has
	// shipped what it held, the next ones arrive.
	waitFor(t, 20*time.Second, "the buffer shipped", func() bool { return rec.Buffered() == 0 })

	for i := 0; i < 10; i++ {
		rec.Emit(requestEvent("after", "w1"))
	}
	waitFor(t, 20*time.Second, "events after the outage", func() bool { return aggregate(t, store, "svc", "w1", "after", "requests", "2026-12") == 10 })
	during := aggregate(t, store, "svc", "w1", "during", "requests", "2026-12")
	if during+rec.Dropped() != int64(emitted) {
		t.Errorf("during the outage: %d persisted + %d dropped; want the %d emitted", during, rec.Dropped(), emitted)
	}
	_ = w
}

// An audit event's changes, which a Recorder encodes in its flusher,
// read back the same from the admin database whichever way they went:
// through the stream and the worker, or straight into the database;
// secrets redacted, values as saved.
func TestRecorderAuditChangesReadBack(t *testing.T) {
	change := db.Change{Op: "update", Table: "widgets", ID: "42",
		Old: db.Entity{"id": "42", "name": "sprocket", "size": int64(3), "price": 2.5, "api_token": "old-secret", "updated_at": "2026-12-06T10:00:00.000000Z"},
		New: db.Entity{"id": "42", "name": `gear "<b>"`, "size": int64(4), "price": 2.5, "api_token": "new-secret", "updated_at": "2026-12-06T10:00:01.000000Z"}}
	check := func(t *testing.T, store *db.Store) {
		t.Helper()
		var page admin.AuditPage
		waitFor(t, 20*time.Second, "the audit entry", func() bool {
			var err error
			page, err = admin.AuditLogs(context.Background(), store, admin.AuditQuery{EntityID: "42"})
			return err == nil && len(page.Entries) == 1
		})
		got := page.Entries[0].Changes
		want := map[string]admin.FieldChange{
			"name":      {Old: "sprocket", New: `gear "<b>"`},
			"size":      {Old: 3.0, New: 4.0}, // JSON numbers
			"api_token": {Old: admin.Redacted, New: admin.Redacted},
		}
		if len(got) != len(want) {
			t.Fatalf("changes %v, want %v", got, want)
		}
		for f, w := range want {
			if got[f] != w {
				t.Errorf("%s: %v, want %v", f, got[f], w)
			}
		}
	}
	forEachDialect(t, func(t *testing.T, store *db.Store) {
		t.Run("stream", func(t *testing.T) {
			if err := admin.Migrate(context.Background(), store); err != nil {
				t.Fatal(err)
			}
			prefix := newPrefix(t)
			rdb := redisClient(t, prefix)
			startWorker(t, rdb, prefix, store, admin.WorkerOptions{})
			rec := startRecorder(t, admin.RecorderOptions{Redis: rdb, Prefix: prefix})
			admin.AuditObserver("svc", rec)(context.Background(), change)
			check(t, store)
		})
	})
	t.Run("direct", func(t *testing.T) {
		store := openStore(t, "sqlite")
		rec := startRecorder(t, admin.RecorderOptions{Store: store})
		admin.AuditObserver("svc", rec)(context.Background(), change)
		check(t, store)
	})
}
