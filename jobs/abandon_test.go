package jobs_test

import (
	"context"
	"errors"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"appkernel/jobs"
)

// A handler that ignores its context past the timeout is abandoned after a
// grace: its run is recorded as failed and retried, and its slot is free
// for other jobs (here the only one).
func TestHandlerIgnoringItsTimeoutIsAbandoned(t *testing.T) {
	t.Parallel()
	b := setup(t)
	release := make(chan struct{})
	b.reg.Task("stubborn", func(ctx context.Context, job *jobs.Job) (any, error) {
		if job.Attempt == 1 {
			<-release // ignores ctx
			return "too late", nil
		}
		return "second run", nil
	}, jobs.Timeout(100*time.Millisecond))
	b.reg.Task("other", func(ctx context.Context, job *jobs.Job) (any, error) { return "ran", nil })
	opts := b.fastOptions()
	opts.Concurrency = 1
	w := b.start(t, opts)
	t.Cleanup(func() { close(release) })
	ctx := context.Background()
	info, err := b.client.Enqueue(ctx, "stubborn", nil)
	if err != nil {
		t.Fatal(err)
	}
	other, err := b.client.Enqueue(ctx, "other", nil)
	if err != nil {
		t.Fatal(err)
	}
	st := b.waitState(t, info.ID, jobs.StateSucceeded, 10*time.Second)
	if st.Attempt != 2 || !strings.Contains(st.LastError, "abandoned") || string(st.Result) != `"second run"` {
		t.Fatalf("stubborn job = %+v", st)
	}
	b.waitState(t, other.ID, jobs.StateSucceeded, 5*time.Second)
	// Stop does not wait for the abandoned handler, still stuck.
	sctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	begin := time.Now()
	if err := w.Stop(sctx); err != nil || time.Since(begin) > 2*time.Second {
		t.Fatalf("Stop after an abandoned run: %v after %v", err, time.Since(begin))
	}
}

// A handler that ends its goroutine with runtime.Goexit (t.FailNow in a
// handler does) fails its run instead of leaving the job running forever.
func TestHandlerCallingGoexitFailsItsRun(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.reg.Task("exits", func(ctx context.Context, job *jobs.Job) (any, error) {
		if job.Attempt == 1 {
			runtime.Goexit()
		}
		return "ok", nil
	})
	opts := b.fastOptions()
	opts.Concurrency = 1
	b.start(t, opts)
	info, err := b.client.Enqueue(context.Background(), "exits", nil)
	if err != nil {
		t.Fatal(err)
	}
	st := b.waitState(t, info.ID, jobs.StateSucceeded, 5*time.Second)
	if st.Attempt != 2 || !strings.Contains(st.LastError, "Goexit") {
		t.Fatalf("job = %+v", st)
	}
}

// A worker stopping out of grace releases the runs it cuts off: the job is
// pending again at once and the cut-off run does not count, so even a job
// on its last attempt runs again (a deploy must not kill it).
func TestStopReleasesCutOffRunsWithoutCountingThem(t *testing.T) {
	t.Parallel()
	b := setup(t)
	started := make(chan struct{}, 1)
	var runs atomic.Int32
	b.reg.Task("long", func(ctx context.Context, job *jobs.Job) (any, error) {
		if runs.Add(1) == 1 {
			started <- struct{}{}
			<-ctx.Done() // cut off by Stop
			return nil, ctx.Err()
		}
		return "finished", nil
	}, jobs.MaxAttempts(1))
	opts := b.fastOptions()
	opts.Lease = time.Minute // recovery by lease expiry would come far too late
	w := jobs.NewWorker(b.rdb, b.reg, opts)
	if err := w.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	info, err := b.client.Enqueue(context.Background(), "long", nil)
	if err != nil {
		t.Fatal(err)
	}
	<-started
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if err := w.Stop(ctx); err == nil {
		t.Fatal("Stop returned nil although a job was cut off")
	}
	st, err := b.client.Status(context.Background(), info.ID)
	if err != nil || st.State != jobs.StatePending || st.Attempt != 0 {
		t.Fatalf("after Stop: %+v, %v; want pending with no attempt counted", st, err)
	}
	b.start(t, opts)
	st = b.waitState(t, info.ID, jobs.StateSucceeded, 5*time.Second)
	if st.Attempt != 1 || runs.Load() != 2 {
		t.Fatalf("job = %+v after %d runs", st, runs.Load())
	}
}

// A dead job enqueued with a unique key takes its key back when retried:
// while it runs again, another job with the key is a duplicate. If another
// job took the key meanwhile, the retry is refused and the job stays dead.
func TestRetryDeadTakesTheUniqueKeyBack(t *testing.T) {
	t.Parallel()
	b := setup(t)
	release := make(chan struct{})
	var runs atomic.Int32
	b.reg.Task("once", func(ctx context.Context, job *jobs.Job) (any, error) {
		if runs.Add(1) == 1 {
			return nil, jobs.Permanent(errors.New("first run fails for good"))
		}
		<-release
		return "ok", nil
	})
	b.reg.Task("fails", func(ctx context.Context, job *jobs.Job) (any, error) {
		return nil, jobs.Permanent(errors.New("always"))
	})
	b.start(t, b.fastOptions())
	t.Cleanup(func() { close(release) })
	ctx := context.Background()
	first, err := b.client.Enqueue(ctx, "once", nil, jobs.WithUnique("report:7", time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	b.waitState(t, first.ID, jobs.StateDead, 5*time.Second)
	if err := b.client.RetryDead(ctx, first.ID); err != nil {
		t.Fatal(err)
	}
	b.waitState(t, first.ID, jobs.StateRunning, 5*time.Second)
	if _, err := b.client.Enqueue(ctx, "once", nil, jobs.WithUnique("report:7", time.Hour)); !errors.Is(err, jobs.ErrDuplicate) {
		t.Fatalf("enqueue beside the retried job: %v, want ErrDuplicate", err)
	}

	// Another job takes a dead job's key: the dead job cannot be retried.
	dead, err := b.client.Enqueue(ctx, "fails", nil, jobs.WithUnique("report:8", time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	b.waitState(t, dead.ID, jobs.StateDead, 5*time.Second)
	holder, err := b.client.Enqueue(ctx, "once", nil, jobs.WithUnique("report:8", time.Hour), jobs.WithDelay(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if err := b.client.RetryDead(ctx, dead.ID); !errors.Is(err, jobs.ErrDuplicate) || !strings.Contains(err.Error(), holder.ID) {
		t.Fatalf("RetryDead while %s holds the key: %v, want ErrDuplicate naming it", holder.ID, err)
	}
	if st, _ := b.client.Status(ctx, dead.ID); st.State != jobs.StateDead {
		t.Fatalf("refused retry left the job %s", st.State)
	}
}
