package jobs_test

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"appkernel/jobs"
)

type runCtxKey struct{}

// Hooks see every run: Run wraps the handler (its context reaches the
// handler, done gets the handler's error), Outcome says succeeded, failed
// (retried) or dead. A traceparent given at Enqueue reaches the run.
func TestHooksSeeRunsAndOutcomes(t *testing.T) {
	t.Parallel()
	b := setup(t)
	const tp = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
	client := jobs.NewClient(b.rdb, jobs.WithPrefix(b.prefix), jobs.WithRegistry(b.reg),
		jobs.WithTraceParent(func(ctx context.Context) string {
			s, _ := ctx.Value(runCtxKey{}).(string)
			return s
		}))
	var mu sync.Mutex
	var outcomes, dones []string
	seen := map[string]string{} // task -> traceparent the handler saw
	handler := func(ctx context.Context, job *jobs.Job) (any, error) {
		if ctx.Value(runCtxKey{}) != "from Run" {
			t.Errorf("%s: the handler's context is not Run's", job.Name)
		}
		mu.Lock()
		seen[job.Name] = job.TraceParent
		mu.Unlock()
		switch job.Name {
		case "hook_flaky":
			if job.Attempt == 1 {
				return nil, errors.New("first try fails")
			}
		case "hook_doomed":
			return nil, jobs.Permanent(errors.New("never"))
		}
		return "ok", nil
	}
	for _, name := range []string{"hook_ok", "hook_flaky", "hook_doomed"} {
		b.reg.Task(name, handler)
	}
	opts := b.fastOptions()
	opts.Hooks = jobs.Hooks{
		Run: func(ctx context.Context, job *jobs.Job) (context.Context, func(error)) {
			return context.WithValue(ctx, runCtxKey{}, "from Run"), func(err error) {
				mu.Lock()
				dones = append(dones, job.Name+":"+map[bool]string{true: "err", false: "nil"}[err != nil])
				mu.Unlock()
			}
		},
		Outcome: func(task, outcome string) {
			mu.Lock()
			outcomes = append(outcomes, task+":"+outcome)
			mu.Unlock()
		},
	}
	b.start(t, opts)
	ctx := context.WithValue(context.Background(), runCtxKey{}, tp)
	var ids []string
	for _, name := range []string{"hook_ok", "hook_flaky", "hook_doomed"} {
		in, err := client.Enqueue(ctx, name, nil)
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, in.ID)
	}
	b.waitState(t, ids[0], jobs.StateSucceeded, 10*time.Second)
	b.waitState(t, ids[1], jobs.StateSucceeded, 10*time.Second)
	b.waitState(t, ids[2], jobs.StateDead, 10*time.Second)

	mu.Lock()
	defer mu.Unlock()
	slices.Sort(outcomes)
	want := []string{"hook_doomed:dead", "hook_flaky:failed", "hook_flaky:succeeded", "hook_ok:succeeded"}
	if !slices.Equal(outcomes, want) {
		t.Errorf("outcomes %v, want %v", outcomes, want)
	}
	slices.Sort(dones)
	wantDone := []string{"hook_doomed:err", "hook_flaky:err", "hook_flaky:nil", "hook_ok:nil"}
	if !slices.Equal(dones, wantDone) {
		t.Errorf("done calls %v, want %v", dones, wantDone)
	}
	for name, got := range seen {
		if got != tp {
			t.Errorf("%s ran with traceparent %q, want %q", name, got, tp)
		}
	}
	// A job enqueued without one (a client without the option) has none.
	in, err := b.client.Enqueue(context.Background(), "hook_ok", nil)
	if err != nil {
		t.Fatal(err)
	}
	mu.Unlock()
	b.waitState(t, in.ID, jobs.StateSucceeded, 10*time.Second)
	mu.Lock()
	if seen["hook_ok"] != "" {
		t.Errorf("a job enqueued without a traceparent ran with %q", seen["hook_ok"])
	}
}

// QueueDepths counts each queue's jobs by state.
func TestQueueDepths(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.reg.Task("depth", func(context.Context, *jobs.Job) (any, error) { return nil, nil })
	ctx := context.Background()
	for range 3 {
		if _, err := b.client.Enqueue(ctx, "depth", nil); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := b.client.Enqueue(ctx, "depth", nil, jobs.WithQueue("later"), jobs.WithDelay(time.Hour)); err != nil {
		t.Fatal(err)
	}
	ds, err := b.client.QueueDepths(ctx)
	if err != nil {
		t.Fatal(err)
	}
	slices.SortFunc(ds, func(a, b jobs.QueueDepth) int { return map[bool]int{true: -1, false: 1}[a.Queue < b.Queue] })
	want := []jobs.QueueDepth{{Queue: jobs.DefaultQueue, Pending: 3}, {Queue: "later", Scheduled: 1}}
	if !slices.Equal(ds, want) {
		t.Fatalf("depths %+v, want %+v", ds, want)
	}
	var none *jobs.Client
	if _, err := none.QueueDepths(ctx); !errors.Is(err, jobs.ErrNoBackend) {
		t.Fatalf("without Redis: %v", err)
	}
}
