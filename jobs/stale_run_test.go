package jobs_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"appkernel/internal/testenv"
	"appkernel/jobs"

	"github.com/redis/go-redis/v9"
)

// These tests give a job a stale run: worker A runs it, loses Redis long
// enough for its lease to expire, and worker B runs it to the end. The job
// then starts afresh under the same id (WithID or RetryDead), so B's new
// run is attempt 1 again, like A's. When A comes back and finishes, its
// outcome belongs to a run that is over and must change nothing.

// partition is a go-redis hook that fails every command while cut is set,
// as if the client had lost Redis, and closes seen once Redis has answered
// a command carrying the argument marker.
type partition struct {
	cut    atomic.Bool
	marker string
	seen   chan struct{}
	once   atomic.Bool
}

func (p *partition) DialHook(next redis.DialHook) redis.DialHook { return next }

func (p *partition) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		if p.cut.Load() {
			err := errors.New("partitioned from Redis (test)")
			cmd.SetErr(err)
			return err
		}
		err := next(ctx, cmd)
		if err == nil && p.carries(cmd) && p.once.CompareAndSwap(false, true) {
			close(p.seen)
		}
		return err
	}
}

func (p *partition) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		if p.cut.Load() {
			err := errors.New("partitioned from Redis (test)")
			for _, c := range cmds {
				c.SetErr(err)
			}
			return err
		}
		return next(ctx, cmds)
	}
}

func (p *partition) carries(cmd redis.Cmder) bool {
	for _, a := range cmd.Args() {
		if s, ok := a.(string); ok && s == p.marker {
			return true
		}
	}
	return false
}

// staleRun is the set-up shared by the tests: worker A, whose Redis can be
// cut, runs the job first and blocks until released; worker B (the test's
// own registry) runs it after A's lease expired.
type staleRun struct {
	b       *bundle
	net     *partition
	release chan struct{} // lets A's run finish
	started chan struct{} // A's run began
}

// staleResult is what A's run returns; its JSON is the hook's marker.
const staleResult = "stale result"

func newStaleRun(t *testing.T, task string) *staleRun {
	t.Helper()
	b := setup(t)
	opt, err := redis.ParseURL(testenv.RedisURL(t))
	if err != nil {
		t.Fatal(err)
	}
	s := &staleRun{
		b:       b,
		net:     &partition{marker: `"` + staleResult + `"`, seen: make(chan struct{})},
		release: make(chan struct{}),
		started: make(chan struct{}, 1),
	}
	rdbA := redis.NewClient(opt)
	rdbA.AddHook(s.net)
	t.Cleanup(func() { _ = rdbA.Close() })
	regA := jobs.NewRegistry()
	regA.Task(task, func(ctx context.Context, job *jobs.Job) (any, error) {
		s.started <- struct{}{}
		<-s.release
		return staleResult, nil
	})
	optsA := b.fastOptions()
	optsA.Lease = 300 * time.Millisecond
	a := jobs.NewWorker(rdbA, regA, optsA)
	if err := a.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = a.Stop(ctx)
	})
	t.Cleanup(func() {
		select {
		case <-s.release:
		default:
			close(s.release)
		}
	})
	return s
}

// loseLease waits for A to start the job, cuts A off Redis and starts
// worker B, which requeues the job once A's lease expired.
func (s *staleRun) loseLease(t *testing.T) {
	t.Helper()
	select {
	case <-s.started:
	case <-time.After(5 * time.Second):
		t.Fatal("worker A did not start the job")
	}
	s.net.cut.Store(true)
	opts := s.b.fastOptions()
	opts.RecoveryInterval = 50 * time.Millisecond
	s.b.start(t, opts)
}

// finishStale reconnects A, lets its run finish and waits until Redis has
// answered A's attempt to record the outcome.
func (s *staleRun) finishStale(t *testing.T) {
	t.Helper()
	s.net.cut.Store(false)
	time.Sleep(200 * time.Millisecond) // A renews its (lost) lease meanwhile
	close(s.release)
	select {
	case <-s.net.seen:
	case <-time.After(5 * time.Second):
		t.Fatal("worker A did not try to record its stale outcome")
	}
}

func TestStaleRunDoesNotCompleteRunOfReusedID(t *testing.T) {
	t.Parallel()
	s := newStaleRun(t, "sync")
	b := s.b
	var runs atomic.Int32
	releaseB := make(chan struct{})
	b.reg.Task("sync", func(ctx context.Context, job *jobs.Job) (any, error) {
		if runs.Add(1) == 1 {
			return "b1", nil
		}
		<-releaseB
		return "b2", nil
	})
	ctx := context.Background()
	const id = "sync-acct-3"
	if _, err := b.client.Enqueue(ctx, "sync", nil, jobs.WithID(id)); err != nil {
		t.Fatal(err)
	}
	s.loseLease(t)
	if st := b.waitState(t, id, jobs.StateSucceeded, 5*time.Second); st.Attempt != 2 || string(st.Result) != `"b1"` {
		t.Fatalf("B's run of the first job: %+v (result %s)", st, st.Result)
	}

	if _, err := b.client.Enqueue(ctx, "sync", nil, jobs.WithID(id)); err != nil {
		t.Fatal(err)
	}
	if st := b.waitState(t, id, jobs.StateRunning, 5*time.Second); st.Attempt != 1 {
		t.Fatalf("the new job runs as attempt %d, want 1", st.Attempt)
	}
	s.finishStale(t)
	if st, err := b.client.Status(ctx, id); err != nil || st.State != jobs.StateRunning || st.Attempt != 1 || st.Result != nil {
		t.Fatalf("after the stale run finished: %+v (result %s), %v; want the new run still running", st, st.Result, err)
	}

	close(releaseB)
	st := b.waitState(t, id, jobs.StateSucceeded, 5*time.Second)
	if string(st.Result) != `"b2"` || st.Attempt != 1 {
		t.Fatalf("the new run: %+v (result %s); want its own result b2 on attempt 1", st, st.Result)
	}
}

func TestStaleRunDoesNotCompleteRetriedDeadJob(t *testing.T) {
	t.Parallel()
	s := newStaleRun(t, "import")
	b := s.b
	var runs atomic.Int32
	releaseB := make(chan struct{})
	b.reg.Task("import", func(ctx context.Context, job *jobs.Job) (any, error) {
		if runs.Add(1) == 1 {
			return nil, jobs.Permanent(errors.New("bad file"))
		}
		<-releaseB
		return "imported", nil
	})
	ctx := context.Background()
	info, err := b.client.Enqueue(ctx, "import", nil)
	if err != nil {
		t.Fatal(err)
	}
	s.loseLease(t)
	if st := b.waitState(t, info.ID, jobs.StateDead, 5*time.Second); st.Attempt != 2 {
		t.Fatalf("B's run: %+v", st)
	}

	if err := b.client.RetryDead(ctx, info.ID); err != nil {
		t.Fatal(err)
	}
	if st := b.waitState(t, info.ID, jobs.StateRunning, 5*time.Second); st.Attempt != 1 {
		t.Fatalf("the retried job runs as attempt %d, want 1", st.Attempt)
	}
	s.finishStale(t)
	if st, err := b.client.Status(ctx, info.ID); err != nil || st.State != jobs.StateRunning || st.Attempt != 1 || st.Result != nil {
		t.Fatalf("after the stale run finished: %+v (result %s), %v; want the retried run still running", st, st.Result, err)
	}

	close(releaseB)
	st := b.waitState(t, info.ID, jobs.StateSucceeded, 5*time.Second)
	if string(st.Result) != `"imported"` || st.Attempt != 1 {
		t.Fatalf("the retried run: %+v (result %s); want its own result on attempt 1", st, st.Result)
	}
}
