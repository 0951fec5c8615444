package jobs_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"appkernel/internal/testenv"
	"appkernel/jobs"

	"github.com/redis/go-redis/v9"
)

func TestRunSucceedsWithResult(t *testing.T) {
	t.Parallel()
	b := setup(t)
	type in struct{ To string }
	seen := make(chan *jobs.Job, 1)
	b.reg.Task("send_email", jobs.Typed(func(ctx context.Context, job *jobs.Job, p in) (any, error) {
		seen <- job
		return map[string]string{"sent_to": p.To}, nil
	}))
	opts := b.fastOptions()
	// Long enough for waitState's polls to see the success on a loaded
	// machine before the result expires.
	opts.ResultRetention = 2 * time.Second
	b.start(t, opts)
	ctx := context.Background()
	info, err := b.client.Enqueue(ctx, "send_email", in{To: "a@b.c"}, jobs.WithUser("u1"), jobs.WithWorkspace("w1"))
	if err != nil {
		t.Fatal(err)
	}
	j := <-seen
	if j.ID != info.ID || j.Name != "send_email" || j.Attempt != 1 || j.MaxAttempts != jobs.DefaultMaxAttempts ||
		j.UserID != "u1" || j.WorkspaceID != "w1" || j.EnqueuedAt.IsZero() || j.Logger == nil || j.Queue != "default" {
		t.Fatalf("handler saw %+v", j)
	}
	st := b.waitState(t, info.ID, jobs.StateSucceeded, 5*time.Second)
	if string(st.Result) != `{"sent_to":"a@b.c"}` || st.Attempt != 1 || st.FinishedAt.IsZero() || st.StartedAt.IsZero() {
		t.Fatalf("Status = %+v (result %s)", st, st.Result)
	}
	// The result is kept for ResultRetention, then the job is gone.
	waitFor(t, 6*time.Second, "the result to expire", func() bool {
		_, err := b.client.Status(ctx, info.ID)
		return errors.Is(err, jobs.ErrNotFound)
	})
}

func TestFailuresRetryThenDeadSet(t *testing.T) {
	t.Parallel()
	b := setup(t)
	var fail atomic.Bool
	fail.Store(true)
	var runs atomic.Int32
	b.reg.Task("flaky", func(ctx context.Context, job *jobs.Job) (any, error) {
		runs.Add(1)
		if fail.Load() {
			return nil, fmt.Errorf("boom %d", job.Attempt)
		}
		return "ok", nil
	}, jobs.MaxAttempts(3))
	b.start(t, b.fastOptions())
	ctx := context.Background()
	info, err := b.client.Enqueue(ctx, "flaky", nil)
	if err != nil {
		t.Fatal(err)
	}
	st := b.waitState(t, info.ID, jobs.StateDead, 5*time.Second)
	if st.Attempt != 3 || st.LastError != "boom 3" || runs.Load() != 3 || st.MaxAttempts != 3 {
		t.Fatalf("dead job = %+v after %d runs", st, runs.Load())
	}
	dead, err := b.client.ListDead(ctx, "", 0, 10)
	if err != nil || len(dead) != 1 || dead[0].ID != info.ID || dead[0].LastError != "boom 3" ||
		dead[0].Name != info.Name || string(dead[0].Payload) != string(info.Payload) || dead[0].MaxAttempts != 3 {
		t.Fatalf("ListDead = %+v, %v", dead, err)
	}

	// Retrying a dead job runs it again with fresh attempts.
	fail.Store(false)
	if err := b.client.RetryDead(ctx, info.ID); err != nil {
		t.Fatal(err)
	}
	st = b.waitState(t, info.ID, jobs.StateSucceeded, 5*time.Second)
	if st.Attempt != 1 || string(st.Result) != `"ok"` {
		t.Fatalf("after RetryDead: %+v", st)
	}
	if err := b.client.RetryDead(ctx, info.ID); !errors.Is(err, jobs.ErrNotFound) {
		t.Fatalf("RetryDead of a job that is not dead: %v", err)
	}
	if dead, _ := b.client.ListDead(ctx, "", 0, 10); len(dead) != 0 {
		t.Fatalf("dead set after retry: %+v", dead)
	}

	// Deleting a dead job removes it for good.
	fail.Store(true)
	info2, _ := b.client.Enqueue(ctx, "flaky", nil, jobs.WithMaxAttempts(1))
	b.waitState(t, info2.ID, jobs.StateDead, 5*time.Second)
	if err := b.client.DeleteDead(ctx, info2.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := b.client.Status(ctx, info2.ID); !errors.Is(err, jobs.ErrNotFound) {
		t.Fatalf("Status after DeleteDead: %v", err)
	}
}

func TestPermanentErrorSkipsRetries(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.reg.Task("typed", jobs.Typed(func(ctx context.Context, job *jobs.Job, n int) (any, error) { return n, nil }))
	b.start(t, b.fastOptions())
	info, err := b.client.Enqueue(context.Background(), "typed", "not a number")
	if err != nil {
		t.Fatal(err)
	}
	st := b.waitState(t, info.ID, jobs.StateDead, 5*time.Second)
	if st.Attempt != 1 || !strings.Contains(st.LastError, "decode payload") {
		t.Fatalf("dead job = %+v", st)
	}
}

func TestTimeoutIsRetried(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.reg.Task("slow", func(ctx context.Context, job *jobs.Job) (any, error) {
		if job.Attempt == 1 {
			<-ctx.Done() // runs past its timeout
			return nil, ctx.Err()
		}
		return "fast now", nil
	}, jobs.Timeout(150*time.Millisecond))
	b.start(t, b.fastOptions())
	info, _ := b.client.Enqueue(context.Background(), "slow", nil)
	st := b.waitState(t, info.ID, jobs.StateSucceeded, 5*time.Second)
	if st.Attempt != 2 || !strings.Contains(st.LastError, "timed out after 150ms") {
		t.Fatalf("Status = %+v", st)
	}
}

func TestPanicIsRetriedAndLogged(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.reg.Task("panicky", func(ctx context.Context, job *jobs.Job) (any, error) {
		if job.Attempt == 1 {
			panic("nil map somewhere")
		}
		return "recovered", nil
	})
	var logs testenv.Buffer
	opts := b.fastOptions()
	opts.Logger = slog.New(slog.NewJSONHandler(&logs, nil))
	b.start(t, opts)
	info, _ := b.client.Enqueue(context.Background(), "panicky", nil)
	st := b.waitState(t, info.ID, jobs.StateSucceeded, 5*time.Second)
	if st.Attempt != 2 || !strings.Contains(st.LastError, "panic: nil map somewhere") {
		t.Fatalf("Status = %+v", st)
	}
	var found bool
	for _, line := range strings.Split(logs.String(), "\n") {
		if strings.Contains(line, `"msg":"job panicked"`) && strings.Contains(line, `"job_id":"`+info.ID+`"`) &&
			strings.Contains(line, "nil map somewhere") && strings.Contains(line, "stack") {
			found = true
		}
	}
	if !found {
		t.Fatalf("no panic log line with the job id; logs:\n%s", logs.String())
	}
}

func TestDelayedJobRunsOnTime(t *testing.T) {
	t.Parallel()
	b := setup(t)
	started := make(chan time.Time, 2)
	b.reg.Task("later", func(ctx context.Context, job *jobs.Job) (any, error) {
		started <- time.Now()
		return nil, nil
	})
	opts := b.fastOptions()
	opts.RecoveryInterval = time.Second // the default: delayed jobs must still be on time
	b.start(t, opts)
	time.Sleep(100 * time.Millisecond) // let the worker go idle
	ctx := context.Background()
	runAt := time.Now().Add(1200 * time.Millisecond)
	info, err := b.client.Enqueue(ctx, "later", nil, jobs.WithRunAt(runAt))
	if err != nil {
		t.Fatal(err)
	}
	if st, _ := b.client.Status(ctx, info.ID); st.State != jobs.StateScheduled || !st.RunAt.Equal(runAt.Truncate(time.Millisecond)) {
		t.Fatalf("Status before run-at = %+v", st)
	}
	select {
	case at := <-started:
		if at.Before(runAt.Add(-5*time.Millisecond)) || at.After(runAt.Add(time.Second)) {
			t.Fatalf("started %s after run-at, want within [0, 1s]", at.Sub(runAt))
		}
	case <-time.After(5 * time.Second):
		t.Fatal("delayed job never ran")
	}
}

func TestIdleWorkerPicksUpWithoutPollingDelay(t *testing.T) {
	t.Parallel()
	b := setup(t)
	started := make(chan time.Time, 10)
	b.reg.Task("ping", func(ctx context.Context, job *jobs.Job) (any, error) {
		started <- time.Now()
		return nil, nil
	})
	b.start(t, b.fastOptions())
	for range 3 {
		time.Sleep(400 * time.Millisecond) // idle, blocked in Redis
		t0 := time.Now()
		if _, err := b.client.Enqueue(context.Background(), "ping", nil); err != nil {
			t.Fatal(err)
		}
		select {
		case at := <-started:
			if d := at.Sub(t0); d > 300*time.Millisecond { // a 1 s poll would fail this
				t.Fatalf("idle worker took %s to start a job", d)
			}
		case <-time.After(3 * time.Second):
			t.Fatal("job never ran")
		}
	}
}

func TestQueuesAreSeparate(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ran := make(chan string, 2)
	b.reg.Task("q", func(ctx context.Context, job *jobs.Job) (any, error) { ran <- job.Queue; return nil, nil })
	opts := b.fastOptions()
	opts.Queues = []string{"emails"}
	b.start(t, opts)
	ctx := context.Background()
	other, _ := b.client.Enqueue(ctx, "q", nil) // default queue: nobody runs it
	mine, err := b.client.Enqueue(ctx, "q", nil, jobs.WithQueue("emails"))
	if err != nil {
		t.Fatal(err)
	}
	b.waitState(t, mine.ID, jobs.StateSucceeded, 5*time.Second)
	if q := <-ran; q != "emails" {
		t.Fatalf("ran a job of queue %q", q)
	}
	time.Sleep(300 * time.Millisecond)
	if st, _ := b.client.Status(ctx, other.ID); st.State != jobs.StatePending {
		t.Fatalf("job of an unserved queue is %s", st.State)
	}
}

// A rolling deploy: newer code enqueues a task the running workers lack.
// Their worker gives each such job back after UnknownTaskDelay without
// spending an attempt (it is never sent to the dead set), logs each task
// name once, and a worker that has the task runs the job exactly once.
// (This replaces a test that pinned the old behaviour: such a job used up
// its attempts and went to the dead set.)
func TestUnknownTaskWaitsForAWorkerThatHasIt(t *testing.T) {
	t.Parallel()
	b := setup(t)
	// The client knows nothing about the workers' registries.
	client := jobs.NewClient(b.rdb, jobs.WithPrefix(b.prefix))
	var logs testenv.Buffer
	opts := b.fastOptions()
	opts.UnknownTaskDelay = 300 * time.Millisecond
	opts.Logger = slog.New(slog.NewJSONHandler(&logs, nil))
	b.start(t, opts) // the old worker: b.reg has no tasks
	ctx := context.Background()
	var ids []string
	for range 3 {
		info, err := client.Enqueue(ctx, "from_the_future", nil, jobs.WithMaxAttempts(2))
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, info.ID)
	}
	other, err := client.Enqueue(ctx, "also_new", nil, jobs.WithMaxAttempts(1))
	if err != nil {
		t.Fatal(err)
	}

	// Given back with a delay: scheduled, due later, no attempt spent.
	st := b.waitState(t, ids[0], jobs.StateScheduled, 5*time.Second)
	if !st.RunAt.After(time.Now()) || st.Attempt != 0 || !strings.Contains(st.LastError, "no handler") {
		t.Fatalf("a job of an unknown task after its first fetch: %+v", st)
	}
	// Several rounds later (more than MaxAttempts fetches each) nothing is dead.
	waitFor(t, 10*time.Second, "the old worker to fetch every job several times", func() bool {
		return strings.Count(logs.String(), "retry_in") >= 2 && time.Since(st.RunAt) > time.Second
	})
	for _, id := range append(ids, other.ID) {
		st, err := client.Status(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if st.State == jobs.StateDead || st.Attempt != 0 {
			t.Fatalf("job %s of an unknown task: %+v", id, st)
		}
	}
	if dead, err := client.ListDead(ctx, jobs.DefaultQueue, 0, 10); err != nil || len(dead) != 0 {
		t.Fatalf("dead set: %v, %v", dead, err)
	}
	for _, task := range []string{"from_the_future", "also_new"} {
		if n := strings.Count(logs.String(), `"task":"`+task+`"`); n != 1 {
			t.Errorf("task %s logged %d times, want once:\n%s", task, n, logs.String())
		}
	}

	// The new worker arrives and runs each job once.
	var runs sync.Map
	var total atomic.Int32
	reg := jobs.NewRegistry()
	reg.Task("from_the_future", func(ctx context.Context, job *jobs.Job) (any, error) {
		if _, again := runs.LoadOrStore(job.ID, true); again {
			t.Errorf("job %s ran twice", job.ID)
		}
		total.Add(1)
		return nil, nil
	})
	nw := jobs.NewWorker(b.rdb, reg, b.fastOptions())
	if err := nw.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = nw.Stop(context.Background()) })
	for _, id := range ids {
		if st := b.waitState(t, id, jobs.StateSucceeded, 10*time.Second); st.Attempt != 1 {
			t.Fatalf("job %s succeeded on attempt %d, want 1", id, st.Attempt)
		}
	}
	if n := total.Load(); n != 3 {
		t.Fatalf("%d runs, want 3", n)
	}
}

// A worker that dies mid-job (cut off from Redis, so it can neither ack
// nor release the run) loses the job to its lease; a second worker
// completes it, exactly once.
func TestWorkerKilledMidJobCompletesElsewhere(t *testing.T) {
	t.Parallel()
	b := setup(t)
	var successes atomic.Int32
	started := make(chan int, 4)
	b.reg.Task("long", func(ctx context.Context, job *jobs.Job) (any, error) {
		started <- job.Attempt
		if job.Attempt == 1 {
			<-ctx.Done() // the first worker dies while this runs
			return nil, ctx.Err()
		}
		successes.Add(1)
		return "done", nil
	})
	opts := b.fastOptions()
	ardb := redis.NewClient(b.rdb.Options()) // the first worker's own connection
	a := jobs.NewWorker(ardb, b.reg, opts)
	if err := a.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	info, _ := b.client.Enqueue(ctx, "long", nil)
	if got := <-started; got != 1 {
		t.Fatalf("first run attempt %d", got)
	}
	ardb.Close() // the worker's process loses Redis, then dies
	dead, cancel := context.WithCancel(ctx)
	cancel()
	if err := a.Stop(dead); err == nil {
		t.Fatal("Stop with no grace should report the abandoned job")
	}
	killedAt := time.Now()
	if st, _ := b.client.Status(ctx, info.ID); st.State != jobs.StateRunning {
		t.Fatalf("abandoned job should still hold its lease, is %s", st.State)
	}

	b.start(t, opts)
	st := b.waitState(t, info.ID, jobs.StateSucceeded, 10*time.Second)
	took := time.Since(killedAt)
	if limit := opts.Lease + opts.RecoveryInterval + time.Second; took > limit {
		t.Fatalf("recovery took %s, want under %s", took, limit)
	}
	time.Sleep(300 * time.Millisecond)
	if successes.Load() != 1 || st.Attempt != 2 {
		t.Fatalf("successes = %d, attempt = %d; want exactly one success on attempt 2", successes.Load(), st.Attempt)
	}
}

func TestGracefulStopFinishesRunningJobs(t *testing.T) {
	t.Parallel()
	b := setup(t)
	started := make(chan struct{}, 1)
	b.reg.Task("short", func(ctx context.Context, job *jobs.Job) (any, error) {
		started <- struct{}{}
		time.Sleep(300 * time.Millisecond)
		return "finished", nil
	})
	w := jobs.NewWorker(b.rdb, b.reg, b.fastOptions())
	if err := w.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	info, _ := b.client.Enqueue(context.Background(), "short", nil)
	<-started
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	if err := w.Stop(ctx); err != nil {
		t.Fatalf("Stop: %v", err)
	}
	// Recorded by the time Stop returns, no lease left behind.
	st, err := b.client.Status(context.Background(), info.ID)
	if err != nil || st.State != jobs.StateSucceeded {
		t.Fatalf("after Stop: %+v, %v", st, err)
	}
	if n := b.rdb.ZCard(context.Background(), b.prefix+"{default}:active").Val(); n != 0 {
		t.Fatalf("%d leases left", n)
	}
	// A stopped worker fetches nothing more.
	later, _ := b.client.Enqueue(context.Background(), "short", nil)
	time.Sleep(300 * time.Millisecond)
	if st, _ := b.client.Status(context.Background(), later.ID); st.State != jobs.StatePending {
		t.Fatalf("stopped worker ran a job: %s", st.State)
	}
}

func TestRunStopsOnContext(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.reg.Task("n", noop)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	w := jobs.NewWorker(b.rdb, b.reg, b.fastOptions())
	go func() { done <- w.Run(ctx) }()
	info, _ := b.client.Enqueue(context.Background(), "n", nil)
	b.waitState(t, info.ID, jobs.StateSucceeded, 5*time.Second)
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Run: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return after its context was cancelled")
	}
	if err := w.Start(context.Background()); err == nil {
		t.Fatal("a stopped worker must not start again")
	}
}

func TestStartStopRaces(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.reg.Task("n", noop)
	for range 5 {
		w := jobs.NewWorker(b.rdb, b.reg, b.fastOptions())
		var wg sync.WaitGroup
		var started atomic.Int32
		for range 4 {
			wg.Add(2)
			go func() {
				defer wg.Done()
				if w.Start(context.Background()) == nil {
					started.Add(1)
				}
			}()
			go func() {
				defer wg.Done()
				ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
				defer cancel()
				_ = w.Stop(ctx)
			}()
		}
		wg.Wait()
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		if err := w.Stop(ctx); err != nil {
			t.Fatal(err)
		}
		cancel()
		if started.Load() > 1 {
			t.Fatalf("worker started %d times", started.Load())
		}
	}
}

// 1,000 jobs, 20 % failing once: all succeed; the healthy ones run once.
func TestThousandJobsTwentyPercentFailOnce(t *testing.T) {
	t.Parallel()
	b := setup(t)
	const n = 1000
	var runs, successes [n]atomic.Int32
	b.reg.Task("work", jobs.Typed(func(ctx context.Context, job *jobs.Job, i int) (any, error) {
		runs[i].Add(1)
		if i%5 == 0 && job.Attempt == 1 {
			return nil, errors.New("transient")
		}
		successes[i].Add(1)
		return nil, nil
	}))
	opts := b.fastOptions()
	opts.Concurrency = 20
	b.start(t, opts)
	b.start(t, opts) // two workers compete for the same queue
	reqs := make([]jobs.EnqueueRequest, n)
	for i := range reqs {
		reqs[i] = jobs.EnqueueRequest{Name: "work", Payload: i}
	}
	infos, err := b.client.EnqueueMany(context.Background(), reqs...)
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, 20*time.Second, "all jobs to succeed", func() bool {
		total := 0
		for i := range successes {
			total += int(successes[i].Load())
		}
		return total >= n
	})
	last := infos[n-1]
	b.waitState(t, last.ID, jobs.StateSucceeded, 5*time.Second)
	time.Sleep(200 * time.Millisecond)
	for i := range n {
		want := int32(1)
		if i%5 == 0 {
			want = 2
		}
		if s, r := successes[i].Load(), runs[i].Load(); s != 1 || r != want {
			t.Fatalf("job %d: %d successes in %d runs, want 1 in %d", i, s, r, want)
		}
	}
	for _, i := range []int{0, 1, 500, 995} {
		st, err := b.client.Status(context.Background(), infos[i].ID)
		if err != nil || st.State != jobs.StateSucceeded {
			t.Fatalf("job %d: %+v %v", i, st, err)
		}
	}
}

// Killing the worker's Redis connections mid-run: it reconnects and
// carries on, losing nothing.
func TestWorkerSurvivesKilledConnections(t *testing.T) {
	t.Parallel()
	b := setup(t)
	var done atomic.Int32
	b.reg.Task("tick", func(ctx context.Context, job *jobs.Job) (any, error) {
		time.Sleep(20 * time.Millisecond)
		done.Add(1)
		return nil, nil
	})
	b.start(t, b.fastOptions())
	ctx := context.Background()
	enqueue := func(k int) {
		reqs := make([]jobs.EnqueueRequest, k)
		for i := range reqs {
			reqs[i] = jobs.EnqueueRequest{Name: "tick"}
		}
		if _, err := b.client.EnqueueMany(ctx, reqs...); err != nil {
			t.Fatal(err)
		}
	}
	enqueue(100)
	waitFor(t, 5*time.Second, "some jobs to run", func() bool { return done.Load() > 10 })

	killed := killOwnConnections(t, b)
	if killed == 0 {
		t.Fatal("found none of this test's connections to kill")
	}
	enqueue(100)
	waitFor(t, 15*time.Second, "all 200 jobs after the kill", func() bool { return done.Load() >= 200 })
	waitFor(t, 5*time.Second, "no job left", func() bool {
		return b.rdb.LLen(ctx, b.prefix+"{default}:pending").Val() == 0 &&
			b.rdb.ZCard(ctx, b.prefix+"{default}:active").Val() == 0
	})
}

// killOwnConnections kills the connections named after this test's
// client (and no one else's) and returns how many it killed.
func killOwnConnections(t *testing.T, b *bundle) int {
	t.Helper()
	ctx := context.Background()
	list, err := b.rdb.ClientList(ctx).Result()
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, line := range strings.Split(list, "\n") {
		var id, name string
		for _, f := range strings.Fields(line) {
			if v, ok := strings.CutPrefix(f, "id="); ok {
				id = v
			}
			if v, ok := strings.CutPrefix(f, "name="); ok {
				name = v
			}
		}
		if name == b.name && id != "" {
			ids = append(ids, id)
		}
	}
	killed := 0
	for _, id := range ids {
		// The connection running this command may be among them.
		n, _ := b.rdb.Do(ctx, "CLIENT", "KILL", "ID", id).Int()
		killed += n
	}
	return killed
}

// A job running longer than its lease keeps it (the worker renews it):
// a second worker must not run it again.
func TestLeaseIsRenewedForLongJobs(t *testing.T) {
	t.Parallel()
	b := setup(t)
	var runs atomic.Int32
	b.reg.Task("long", func(ctx context.Context, job *jobs.Job) (any, error) {
		runs.Add(1)
		select {
		case <-time.After(2 * time.Second): // 4 leases long
		case <-ctx.Done():
			return nil, ctx.Err()
		}
		return nil, nil
	})
	opts := b.fastOptions()
	opts.Lease = 500 * time.Millisecond
	opts.RecoveryInterval = 100 * time.Millisecond
	b.start(t, opts)
	b.start(t, opts)
	info, _ := b.client.Enqueue(context.Background(), "long", nil)
	st := b.waitState(t, info.ID, jobs.StateSucceeded, 6*time.Second)
	if runs.Load() != 1 || st.Attempt != 1 {
		t.Fatalf("ran %d times (attempt %d), want once", runs.Load(), st.Attempt)
	}
}
