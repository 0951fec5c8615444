package jobs_test

import (
	"context"
	"strconv"
	"sync"
	"testing"
	"time"

	"appkernel/jobs"
)

// runLog records the ticks a periodic task ran for, and by which job.
type runLog struct {
	mu    sync.Mutex
	ticks map[time.Time]int
	ids   map[string]int
}

func newRunLog() *runLog { return &runLog{ticks: map[time.Time]int{}, ids: map[string]int{}} }

func (l *runLog) handler(ctx context.Context, job *jobs.Job) (any, error) {
	p, err := jobs.Payload[jobs.PeriodicPayload](job)
	if err != nil {
		return nil, err
	}
	l.mu.Lock()
	l.ticks[p.ScheduledAt]++
	l.ids[job.ID]++
	l.mu.Unlock()
	return nil, nil
}

func (l *runLog) snapshot() (ticks map[time.Time]int, ids map[string]int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	ticks, ids = map[time.Time]int{}, map[string]int{}
	for k, v := range l.ticks {
		ticks[k] = v
	}
	for k, v := range l.ids {
		ids[k] = v
	}
	return ticks, ids
}

// Two workers on one Redis: every tick of an every-second schedule runs
// exactly once.
func TestPeriodicRunsOncePerTickAcrossWorkers(t *testing.T) {
	b := setup(t)
	runs := newRunLog()
	b.reg.Periodic("every_second", "* * * * * *", runs.handler)
	opts := b.fastOptions()
	opts.RecoveryInterval = 20 * time.Millisecond
	b.start(t, opts)
	b.start(t, opts)

	time.Sleep(3500 * time.Millisecond)
	ticks, ids := runs.snapshot()
	if len(ticks) < 2 {
		t.Fatalf("%d ticks ran in 3.5 s of an every-second schedule, want at least 2", len(ticks))
	}
	for tick, n := range ticks {
		if n != 1 {
			t.Errorf("tick %s ran %d times, want once", tick.Format(time.RFC3339Nano), n)
		}
		if tick.Nanosecond() != 0 {
			t.Errorf("tick %s is not on a second", tick.Format(time.RFC3339Nano))
		}
	}
	for id, n := range ids {
		if n != 1 {
			t.Errorf("job %s ran %d times", id, n)
		}
	}

	scheds, err := b.client.Schedules(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(scheds) != 1 || scheds[0].Name != "every_second" || scheds[0].TimeZone != "UTC" {
		t.Fatalf("Schedules = %+v", scheds)
	}
	s := scheds[0]
	if s.LastRun.IsZero() || !s.NextRun.After(s.LastRun) || s.NextRun.Sub(s.LastRun) != time.Second {
		t.Fatalf("last run %s, next run %s: want the next a second after the last", s.LastRun, s.NextRun)
	}
	if in, err := b.client.Status(context.Background(), s.LastJobID); err != nil || in.Name != "every_second" {
		t.Fatalf("Status of the last run's job %q: %+v, %v", s.LastJobID, in, err)
	}
}

// Ticks missed while no worker ran (here: an hour of a per-minute
// schedule) run once when workers return, not once per missed tick; a
// schedule seen for the first time does not run until its next tick.
func TestPeriodicMissedTicksRunOnceOnReturn(t *testing.T) {
	b := setup(t)
	missed, fresh := newRunLog(), newRunLog()
	b.reg.Periodic("was_down", "* * * * *", missed.handler)
	b.reg.Periodic("brand_new", "* * * * *", fresh.handler, jobs.TimeZone(time.FixedZone("UTC+2", 2*3600)))
	// The last tick of was_down ran an hour ago, then every worker was
	// down.
	if untilNext := time.Until(time.Now().Truncate(time.Minute).Add(time.Minute)); untilNext < 3*time.Second {
		time.Sleep(untilNext + 100*time.Millisecond) // keep the check inside one minute
	}
	hourAgo := time.Now().Add(-time.Hour).Truncate(time.Minute)
	ctx := context.Background()
	if err := b.rdb.HSet(ctx, b.prefix+"periodic:was_down", "last", strconv.FormatInt(hourAgo.UnixMilli(), 10)).Err(); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	opts := b.fastOptions()
	opts.RecoveryInterval = 20 * time.Millisecond
	b.start(t, opts)
	b.start(t, opts)

	waitFor(t, 5*time.Second, "the missed tick to run", func() bool {
		ticks, _ := missed.snapshot()
		return len(ticks) > 0
	})
	time.Sleep(300 * time.Millisecond)
	ticks, _ := missed.snapshot()
	caughtUp := 0
	for tick, n := range ticks {
		if !tick.After(start) {
			caughtUp += n
			if want := start.Truncate(time.Minute); !tick.Equal(want) {
				t.Errorf("caught-up tick %s, want the latest missed one, %s", tick, want)
			}
		}
	}
	if caughtUp != 1 {
		t.Fatalf("%d runs for the ticks missed before the workers returned, want 1: %v", caughtUp, ticks)
	}
	freshTicks, _ := fresh.snapshot()
	for tick := range freshTicks {
		if !tick.After(start) {
			t.Fatalf("a schedule seen for the first time ran its past tick %s", tick)
		}
	}
	scheds, err := b.client.Schedules(ctx)
	if err != nil || len(scheds) != 2 {
		t.Fatalf("Schedules: %+v, %v", scheds, err)
	}
	for _, s := range scheds {
		if s.Name == "brand_new" && (s.TimeZone != "UTC+2" || !s.NextRun.After(start)) {
			t.Errorf("brand_new: %+v", s)
		}
	}
}

func TestPeriodicRefusesBadSpec(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Fatal("Periodic accepted the schedule \"every now and then\"")
		}
	}()
	jobs.NewRegistry().Periodic("bad", "every now and then", func(context.Context, *jobs.Job) (any, error) { return nil, nil })
}
