package jobs_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"appkernel/jobs"
)

// These tests enqueue a job under an id of the caller's (WithID) that
// another job already has. A finished job's id starts a fresh job that
// runs in full; an unfinished job's id is refused and that job is left
// alone.

// counter is a task handler that counts its runs and returns the payload's
// "n" as its result. A payload with "fail" set fails permanently.
type counter struct {
	mu   sync.Mutex
	runs map[string][]int // job id -> "n" of each run
}

type counterPayload struct {
	N    int  `json:"n"`
	Fail bool `json:"fail"`
}

func newCounter() *counter { return &counter{runs: map[string][]int{}} }

func (c *counter) handle(ctx context.Context, job *jobs.Job, p counterPayload) (any, error) {
	c.mu.Lock()
	c.runs[job.ID] = append(c.runs[job.ID], p.N)
	c.mu.Unlock()
	if p.Fail {
		return nil, jobs.Permanent(fmt.Errorf("run %d failed", p.N))
	}
	return p.N, nil
}

func (c *counter) of(id string) []int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]int(nil), c.runs[id]...)
}

func TestReusedIDAfterSuccessRunsAgain(t *testing.T) {
	t.Parallel()
	b := setup(t)
	c := newCounter()
	b.reg.Task("report", jobs.Typed(c.handle), jobs.MaxAttempts(1))
	b.start(t, b.fastOptions())
	ctx := context.Background()
	const id = "report-2024-01"
	if _, err := b.client.Enqueue(ctx, "report", counterPayload{N: 1}, jobs.WithID(id)); err != nil {
		t.Fatal(err)
	}
	first := b.waitState(t, id, jobs.StateSucceeded, 5*time.Second)
	if string(first.Result) != "1" {
		t.Fatalf("first run: %+v (result %s)", first, first.Result)
	}

	in, err := b.client.Enqueue(ctx, "report", counterPayload{N: 2}, jobs.WithID(id))
	if err != nil || in.ID != id || in.State != jobs.StatePending {
		t.Fatalf("enqueue after success: %+v, %v", in, err)
	}
	second := b.waitState(t, id, jobs.StateSucceeded, 5*time.Second)
	if string(second.Result) != "2" || second.Attempt != 1 || second.LastError != "" || string(second.Payload) != `{"n":2,"fail":false}` ||
		second.StartedAt.Before(first.FinishedAt) || !second.EnqueuedAt.Equal(in.EnqueuedAt) {
		t.Fatalf("second run: %+v (result %s, payload %s); first finished at %s", second, second.Result, second.Payload, first.FinishedAt)
	}
	time.Sleep(200 * time.Millisecond)
	if got := c.of(id); fmt.Sprint(got) != "[1 2]" {
		t.Fatalf("runs %v, want [1 2]", got)
	}
}

func TestReusedIDAfterDeadRunsAgain(t *testing.T) {
	t.Parallel()
	b := setup(t)
	c := newCounter()
	b.reg.Task("import", jobs.Typed(c.handle), jobs.MaxAttempts(1))
	b.start(t, b.fastOptions())
	ctx := context.Background()
	const id = "import-7"
	if _, err := b.client.Enqueue(ctx, "import", counterPayload{N: 1, Fail: true}, jobs.WithID(id)); err != nil {
		t.Fatal(err)
	}
	dead := b.waitState(t, id, jobs.StateDead, 5*time.Second)
	if dead.LastError == "" || dead.FinishedAt.IsZero() {
		t.Fatalf("dead job: %+v", dead)
	}

	if _, err := b.client.Enqueue(ctx, "import", counterPayload{N: 2}, jobs.WithID(id)); err != nil {
		t.Fatalf("enqueue after dead: %v", err)
	}
	st := b.waitState(t, id, jobs.StateSucceeded, 5*time.Second)
	if string(st.Result) != "2" || st.Attempt != 1 || st.LastError != "" {
		t.Fatalf("second run: %+v (result %s)", st, st.Result)
	}
	if got := c.of(id); fmt.Sprint(got) != "[1 2]" {
		t.Fatalf("runs %v, want [1 2]", got)
	}
	if deadJobs, err := b.client.ListDead(ctx, "", 0, 10); err != nil || len(deadJobs) != 0 {
		t.Fatalf("the dead set still lists %+v (%v)", deadJobs, err)
	}
	if err := b.client.RetryDead(ctx, id); !errors.Is(err, jobs.ErrNotFound) {
		t.Fatalf("RetryDead of the rerun job: %v, want ErrNotFound", err)
	}
}

func TestReusedIDOfUnfinishedJobIsRefused(t *testing.T) {
	t.Parallel()
	b := setup(t)
	c := newCounter()
	b.reg.Task("count", jobs.Typed(c.handle))
	release := make(chan struct{})
	b.reg.Task("slow", jobs.Typed(func(ctx context.Context, job *jobs.Job, p counterPayload) (any, error) {
		<-release
		return c.handle(ctx, job, p)
	}))
	b.reg.Task("flaky", jobs.Typed(func(ctx context.Context, job *jobs.Job, p counterPayload) (any, error) {
		if _, err := c.handle(ctx, job, p); err != nil || job.Attempt == 1 {
			return nil, errors.New("first attempt fails")
		}
		return p.N, nil
	}))
	ctx := context.Background()
	enqueue := func(name, id string, n int, opts ...jobs.EnqueueOption) (jobs.Info, error) {
		return b.client.Enqueue(ctx, name, counterPayload{N: n}, append(opts, jobs.WithID(id))...)
	}
	refused := func(name, id string, state jobs.State, opts ...jobs.EnqueueOption) {
		t.Helper()
		before, err := b.client.Status(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		in, err := enqueue(name, id, 99, opts...)
		if !errors.Is(err, jobs.ErrDuplicateID) || in.ID != id || in.State != state {
			t.Fatalf("enqueue of %s %s: %+v, %v; want ErrDuplicateID", state, id, in, err)
		}
		after, err := b.client.Status(ctx, id)
		if err != nil || after.State != before.State || string(after.Payload) != string(before.Payload) ||
			!after.EnqueuedAt.Equal(before.EnqueuedAt) || !after.RunAt.Equal(before.RunAt) || after.Attempt != before.Attempt {
			t.Fatalf("the refused enqueue changed %s: %+v, then %+v (%v)", id, before, after, err)
		}
	}

	// Before any worker runs: pending and scheduled jobs.
	if _, err := enqueue("count", "pending-1", 1); err != nil {
		t.Fatal(err)
	}
	refused("count", "pending-1", jobs.StatePending)
	refused("count", "pending-1", jobs.StatePending, jobs.WithDelay(time.Hour))
	if _, err := enqueue("count", "scheduled-1", 1, jobs.WithDelay(time.Hour)); err != nil {
		t.Fatal(err)
	}
	refused("count", "scheduled-1", jobs.StateScheduled)
	refused("count", "scheduled-1", jobs.StateScheduled, jobs.WithUnique("k", time.Minute))
	if _, err := b.client.Enqueue(ctx, "count", nil, jobs.WithUnique("k", time.Minute), jobs.WithDelay(time.Hour)); err != nil {
		t.Fatalf("a refused enqueue took its unique key: %v", err)
	}

	// EnqueueMany refuses only the requests whose id is in use, including
	// the second of two requests with the same id.
	infos, err := b.client.EnqueueMany(ctx,
		jobs.EnqueueRequest{Name: "count", Payload: counterPayload{N: 99}, Options: []jobs.EnqueueOption{jobs.WithID("pending-1")}},
		jobs.EnqueueRequest{Name: "count", Payload: counterPayload{N: 1}, Options: []jobs.EnqueueOption{jobs.WithID("batch-1")}},
		jobs.EnqueueRequest{Name: "count", Payload: counterPayload{N: 99}, Options: []jobs.EnqueueOption{jobs.WithID("batch-1")}},
	)
	var be *jobs.BatchError
	if !errors.As(err, &be) || !errors.Is(be.Errs[0], jobs.ErrDuplicateID) || be.Errs[1] != nil ||
		!errors.Is(be.Errs[2], jobs.ErrDuplicateID) || infos[1].State != jobs.StatePending {
		t.Fatalf("EnqueueMany: %+v, %v", infos, err)
	}

	// Running and retrying jobs.
	opts := b.fastOptions()
	opts.Backoff = func(int) time.Duration { return time.Hour }
	b.start(t, opts)
	if _, err := enqueue("slow", "running-1", 1); err != nil {
		t.Fatal(err)
	}
	b.waitState(t, "running-1", jobs.StateRunning, 5*time.Second)
	refused("slow", "running-1", jobs.StateRunning)
	if _, err := enqueue("flaky", "retrying-1", 1); err != nil {
		t.Fatal(err)
	}
	b.waitState(t, "retrying-1", jobs.StateRetrying, 5*time.Second)
	refused("flaky", "retrying-1", jobs.StateRetrying)
	close(release)

	b.waitState(t, "running-1", jobs.StateSucceeded, 5*time.Second)
	b.waitState(t, "pending-1", jobs.StateSucceeded, 5*time.Second)
	b.waitState(t, "batch-1", jobs.StateSucceeded, 5*time.Second)
	time.Sleep(300 * time.Millisecond)
	for id, want := range map[string]string{"pending-1": "[1]", "running-1": "[1]", "retrying-1": "[1]", "batch-1": "[1]", "scheduled-1": "[]"} {
		if got := c.of(id); fmt.Sprint(got) != want {
			t.Errorf("%s ran with %v, want %s", id, got, want)
		}
	}
}

func TestReusedIDConcurrentEnqueuesMakeOneRun(t *testing.T) {
	t.Parallel()
	b := setup(t)
	var runs atomic.Int32
	release := make(chan struct{})
	b.reg.Task("sync", func(ctx context.Context, job *jobs.Job) (any, error) {
		if runs.Add(1) == 2 {
			<-release // hold the second run so no third can start
		}
		return nil, nil
	})
	b.start(t, b.fastOptions())
	ctx := context.Background()
	const id = "sync-acct-9"
	if _, err := b.client.Enqueue(ctx, "sync", nil, jobs.WithID(id)); err != nil {
		t.Fatal(err)
	}
	b.waitState(t, id, jobs.StateSucceeded, 5*time.Second)

	var (
		wg         sync.WaitGroup
		stored     atomic.Int32
		duplicates atomic.Int32
		start      = make(chan struct{})
	)
	for range 20 {
		wg.Go(func() {
			<-start
			_, err := b.client.Enqueue(ctx, "sync", nil, jobs.WithID(id))
			switch {
			case err == nil:
				stored.Add(1)
			case errors.Is(err, jobs.ErrDuplicateID):
				duplicates.Add(1)
			default:
				t.Error(err)
			}
		})
	}
	close(start)
	wg.Wait()
	close(release)
	if stored.Load() != 1 || duplicates.Load() != 19 {
		t.Fatalf("%d enqueues stored a job and %d were refused; want 1 and 19", stored.Load(), duplicates.Load())
	}
	b.waitState(t, id, jobs.StateSucceeded, 5*time.Second)
	time.Sleep(300 * time.Millisecond)
	if n := runs.Load(); n != 2 {
		t.Fatalf("the job ran %d times, want 2", n)
	}
}

// A finished job's hash expires after the result retention; the fresh job
// stored under its id must not inherit that expiry.
func TestReusedIDDelayedAfterSuccessOutlivesOldRetention(t *testing.T) {
	t.Parallel()
	b := setup(t)
	var runs atomic.Int32
	b.reg.Task("digest", func(ctx context.Context, job *jobs.Job) (any, error) {
		return runs.Add(1), nil
	})
	opts := b.fastOptions()
	opts.ResultRetention = time.Second
	b.start(t, opts)
	ctx := context.Background()
	const id = "digest-weekly"
	if _, err := b.client.Enqueue(ctx, "digest", nil, jobs.WithID(id)); err != nil {
		t.Fatal(err)
	}
	b.waitState(t, id, jobs.StateSucceeded, 5*time.Second)
	// The delay leaves a wide margin after the sleep: a Status that comes
	// late on a loaded machine must still find the job scheduled.
	in, err := b.client.Enqueue(ctx, "digest", nil, jobs.WithID(id), jobs.WithDelay(4*time.Second))
	if err != nil || in.State != jobs.StateScheduled {
		t.Fatalf("delayed enqueue after success: %+v, %v", in, err)
	}
	time.Sleep(1300 * time.Millisecond) // past the first run's retention
	st, err := b.client.Status(ctx, id)
	if err != nil || st.State != jobs.StateScheduled || st.Attempt != 0 || st.Result != nil {
		t.Fatalf("after the old retention: %+v, %v; want the scheduled job", st, err)
	}
	st = b.waitState(t, id, jobs.StateSucceeded, 10*time.Second)
	if string(st.Result) != "2" || runs.Load() != 2 {
		t.Fatalf("second run: %+v (result %s), %d runs", st, st.Result, runs.Load())
	}
}
