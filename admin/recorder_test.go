package admin_test

import (
	"context"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"appkernel/admin"
	"appkernel/db"
)

// emitConcurrently emits n request events of user u1 in workspace w1 from
// many goroutines at once.
func emitConcurrently(sink admin.Sink, n int) {
	var wg sync.WaitGroup
	for g := 0; g < 50; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := g; i < n; i += 50 {
				sink.Emit(requestEvent("u1", "w1"))
			}
		}()
	}
	wg.Wait()
}

// Without Redis, a clean Stop leaves every event in the admin database,
// counted once, with nothing dropped.
func TestRecorderDirectLosesNothingOnStop(t *testing.T) {
	forEachDialect(t, func(t *testing.T, store *db.Store) {
		ctx := context.Background()
		rec, err := admin.NewRecorder(admin.RecorderOptions{Store: store, FlushInterval: time.Hour, BatchSize: 300})
		if err != nil {
			t.Fatal(err)
		}
		if err := rec.Start(ctx); err != nil {
			t.Fatal(err)
		}
		emitConcurrently(rec, 1000)
		if err := rec.Stop(ctx); err != nil {
			t.Fatal(err)
		}
		if n := count(t, store, admin.TableUsage); n != 1000 {
			t.Errorf("usage_events has %d rows; want 1000", n)
		}
		for _, period := range []string{"2026-12-06", "2026-12"} {
			if got := aggregate(t, store, "svc", "w1", "u1", "requests", period); got != 1000 {
				t.Errorf("requests for %s = %d; want 1000", period, got)
			}
		}
		if rec.Dropped() != 0 || rec.Shipped() != 1000 {
			t.Errorf("dropped %d, shipped %d; want 0 and 1000", rec.Dropped(), rec.Shipped())
		}
	})
}

// Events reach the database within about a flush interval without a Stop.
func TestRecorderDirectFlushesOnInterval(t *testing.T) {
	store := openStore(t, "sqlite")
	rec, err := admin.NewRecorder(admin.RecorderOptions{Store: store, FlushInterval: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if err := rec.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rec.Stop(context.Background()) })
	rec.Emit(requestEvent("u1", "w1"))
	waitFor(t, 5*time.Second, "the event in usage_events", func() bool { return count(t, store, admin.TableUsage) == 1 })
}

// A full buffer drops and counts; Emit returns at once.
func TestRecorderOverflowCounted(t *testing.T) {
	store := openStore(t, "sqlite")
	rec, err := admin.NewRecorder(admin.RecorderOptions{Store: store, BufferSize: 10, FlushInterval: time.Hour, BatchSize: 1000})
	if err != nil {
		t.Fatal(err)
	}
	// Not started: nothing takes events out of the buffer.
	for i := 0; i < 25; i++ {
		rec.Emit(requestEvent("u1", "w1"))
	}
	if rec.Dropped() != 15 || rec.Buffered() != 10 {
		t.Errorf("dropped %d, buffered %d; want 15 and 10", rec.Dropped(), rec.Buffered())
	}
}

func TestRecorderOptionsValidated(t *testing.T) {
	if _, err := admin.NewRecorder(admin.RecorderOptions{}); err == nil {
		t.Error("NewRecorder without Redis or Store: no error")
	}
	store := openStore(t, "sqlite")
	rdb := redisClient(t, newPrefix(t))
	if _, err := admin.NewRecorder(admin.RecorderOptions{Store: store, Redis: rdb}); err == nil {
		t.Error("NewRecorder with both Redis and Store: no error")
	}
	rec, _ := admin.NewRecorder(admin.RecorderOptions{Store: store})
	if err := rec.Stop(context.Background()); err == nil {
		t.Error("Stop before Start: no error")
	}
}

// Emits racing Stop, and Stops racing each other, neither panic nor hang;
// every event emitted before Stop began is shipped or counted as dropped.
func TestRecorderStopRacesEmit(t *testing.T) {
	store := openStore(t, "sqlite")
	rec, err := admin.NewRecorder(admin.RecorderOptions{Store: store, BatchSize: 50, FlushInterval: 5 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if err := rec.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := rec.Start(context.Background()); err == nil {
		t.Error("a second Start: no error")
	}
	var wg sync.WaitGroup
	stopDone := make(chan struct{})
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stopDone:
					return
				default:
					rec.Emit(requestEvent("u1", "w1"))
				}
			}
		}()
	}
	time.Sleep(50 * time.Millisecond)
	errs := make(chan error, 3)
	for i := 0; i < 3; i++ {
		go func() { errs <- rec.Stop(context.Background()) }()
	}
	for i := 0; i < 3; i++ {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
	close(stopDone)
	wg.Wait()
	if got := int64(count(t, store, admin.TableUsage)); got != rec.Shipped() {
		t.Errorf("usage_events has %d rows; the recorder shipped %d", got, rec.Shipped())
	}
}

// A process busy on its only CPU (requests that never block, emitting
// events as fast as they can) still lets the flusher run before the
// buffer overflows: with one P, Emit yields to it at every batch (and with
// any, once the buffer is half full), so nothing is dropped while the
// transport keeps up.
func TestRecorderKeepsUpOnOneBusyCPU(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	var shipped atomic.Int64
	rec := admin.NewRecorderTo(t, admin.RecorderOptions{BufferSize: 1000, FlushInterval: time.Hour},
		func(batch []admin.Event) { shipped.Add(int64(len(batch))) })
	e := requestEvent("u1", "w1")
	const n = 100_000
	for range n {
		rec.Emit(e)
	}
	if err := rec.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
	if d := rec.Dropped(); d != 0 || shipped.Load() != n {
		t.Fatalf("dropped %d, shipped %d of %d", d, shipped.Load(), n)
	}
}

// Long before its flush interval, the flusher ships once 512 events are
// ready (a wake costs the request that makes it a system call: not one
// per batch), or every batch of 128 with one P; not before.
func TestRecorderWakesOnReadyEvents(t *testing.T) {
	for _, c := range []struct{ procs, wakeAt int }{{2, 512}, {1, 128}} {
		t.Run(fmt.Sprintf("GOMAXPROCS=%d", c.procs), func(t *testing.T) {
			defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(c.procs))
			var shipped atomic.Int64
			rec := admin.NewRecorderTo(t, admin.RecorderOptions{FlushInterval: time.Hour},
				func(batch []admin.Event) { shipped.Add(int64(len(batch))) })
			e := requestEvent("u1", "w1")
			for range c.wakeAt - 1 {
				rec.Emit(e)
			}
			time.Sleep(100 * time.Millisecond)
			if n := shipped.Load(); n != 0 {
				t.Fatalf("%d events shipped before %d were ready", n, c.wakeAt)
			}
			rec.Emit(e)
			waitFor(t, 5*time.Second, fmt.Sprintf("%d events shipped", c.wakeAt), func() bool { return shipped.Load() == int64(c.wakeAt) })
		})
	}
}

// One send ships up to BatchSize events, several of the buffer's batches
// of 128 together: a Redis pipeline or a transaction per send, not per
// batch.
func TestRecorderSendsUpToBatchSize(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(2))
	for _, c := range []struct {
		batchSize int
		want      []int
	}{{0, []int{384, 128}}, {300, []int{256, 256}}, {100, []int{100, 100, 100, 100, 100, 12}}} {
		t.Run(fmt.Sprint(c.batchSize), func(t *testing.T) {
			var mu sync.Mutex
			var sends []int
			rec := admin.NewRecorderTo(t, admin.RecorderOptions{BatchSize: c.batchSize, FlushInterval: time.Hour},
				func(batch []admin.Event) {
					mu.Lock()
					sends = append(sends, len(batch))
					mu.Unlock()
				})
			e := requestEvent("u1", "w1")
			for range 512 {
				rec.Emit(e)
			}
			if err := rec.Stop(context.Background()); err != nil {
				t.Fatal(err)
			}
			mu.Lock()
			defer mu.Unlock()
			if fmt.Sprint(sends) != fmt.Sprint(c.want) {
				t.Errorf("sends of %v events, want %v", sends, c.want)
			}
		})
	}
}
