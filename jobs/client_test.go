package jobs_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"appkernel/jobs"
)

func TestEnqueueValidation(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.reg.Task("known", noop)
	ctx := context.Background()
	if _, err := b.client.Enqueue(ctx, "known", map[string]any{"ch": make(chan int)}); err == nil {
		t.Error("an unmarshalable payload must fail at Enqueue")
	}
	if _, err := b.client.Enqueue(ctx, "unknown", nil); err == nil {
		t.Error("a task the registry does not know must fail at Enqueue")
	}
	if _, err := b.client.Enqueue(ctx, "known", nil, jobs.WithQueue("bad{queue}")); err == nil {
		t.Error("a queue name with a brace must be rejected (it would break hash tags)")
	}
	if _, err := b.client.Enqueue(ctx, "known", nil, jobs.WithUnique("", time.Minute)); err == nil {
		t.Error("an empty unique key must be rejected")
	}
	if _, err := b.client.Enqueue(ctx, "known", nil, jobs.WithUnique("k", 500*time.Microsecond)); err == nil || !strings.Contains(err.Error(), "WithUnique") {
		t.Errorf("a unique ttl under 1ms (Redis would get PX 0) must be rejected by WithUnique, got %v", err)
	}
	if _, err := b.client.Enqueue(ctx, "known", nil, jobs.WithMaxAttempts(0)); err == nil {
		t.Error("zero max attempts must be rejected")
	}
	if n, _ := b.rdb.Keys(ctx, b.prefix+"*").Result(); len(n) != 0 {
		t.Errorf("failed enqueues wrote keys: %v", n)
	}
}

func TestEnqueueStatusPending(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.reg.Task("report", noop, jobs.MaxAttempts(7))
	ctx := context.Background()
	in, err := b.client.Enqueue(ctx, "report", map[string]int{"n": 1}, jobs.WithUser("u1"), jobs.WithWorkspace("w1"))
	if err != nil {
		t.Fatal(err)
	}
	if in.ID == "" || in.State != jobs.StatePending || in.MaxAttempts != 7 {
		t.Fatalf("Enqueue info = %+v", in)
	}
	got, err := b.client.Status(ctx, in.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.State != jobs.StatePending || got.Name != "report" || got.UserID != "u1" || got.WorkspaceID != "w1" ||
		got.Queue != jobs.DefaultQueue || string(got.Payload) != `{"n":1}` || got.MaxAttempts != 7 || got.Attempt != 0 {
		t.Fatalf("Status = %+v", got)
	}
	// EnqueuedAt is Redis's clock (this box's too), read to the millisecond,
	// and Status reads back what Enqueue returned; likewise for a job with
	// a unique key and a run-at time (the other enqueue script).
	if d := time.Since(in.EnqueuedAt); d < -time.Second || d > 10*time.Second || !got.EnqueuedAt.Equal(in.EnqueuedAt) {
		t.Fatalf("EnqueuedAt %s, Status says %s, now %s", in.EnqueuedAt, got.EnqueuedAt, time.Now())
	}
	runAt := time.Now().Add(time.Hour).Truncate(time.Millisecond)
	in2, err := b.client.Enqueue(ctx, "report", 2, jobs.WithUnique("r2", time.Hour), jobs.WithRunAt(runAt))
	if err != nil {
		t.Fatal(err)
	}
	got2, err := b.client.Status(ctx, in2.ID)
	if err != nil || in2.State != jobs.StateScheduled || got2.State != jobs.StateScheduled || !got2.RunAt.Equal(runAt) ||
		!got2.EnqueuedAt.Equal(in2.EnqueuedAt) || time.Since(in2.EnqueuedAt) > 10*time.Second || string(got2.Payload) != "2" {
		t.Fatalf("scheduled unique job: Enqueue %+v, Status %+v, %v", in2, got2, err)
	}
	if _, err := b.client.Status(ctx, "no-such-job"); !errors.Is(err, jobs.ErrNotFound) {
		t.Fatalf("Status of unknown id: %v", err)
	}
}

func TestUniqueUnderConcurrentEnqueues(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.reg.Task("sync_account", noop)
	ctx := context.Background()
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		ok   []string
		dups = map[string]int{}
	)
	for range 50 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			in, err := b.client.Enqueue(ctx, "sync_account", nil, jobs.WithUnique("acct-42", time.Minute))
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				ok = append(ok, in.ID)
			case errors.Is(err, jobs.ErrDuplicate):
				dups[in.ID]++
			default:
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if len(ok) != 1 || len(dups) != 1 || dups[ok[0]] != 49 {
		t.Fatalf("want 1 job and 49 duplicates naming it; got %v and %v", ok, dups)
	}
	if n := b.rdb.LLen(ctx, b.prefix+"{default}:pending").Val(); n != 1 {
		t.Fatalf("pending holds %d jobs, want 1", n)
	}

	// Once the job succeeded, the key is free again.
	b.start(t, b.fastOptions())
	b.waitState(t, ok[0], jobs.StateSucceeded, 5*time.Second)
	again, err := b.client.Enqueue(ctx, "sync_account", nil, jobs.WithUnique("acct-42", time.Minute))
	if err != nil || again.ID == ok[0] {
		t.Fatalf("enqueue after success: %+v, %v", again, err)
	}
}

// Concurrent producers share round trips (their Enqueue calls leave
// together); each must still get its own job, stored once, with its own
// payload, options and state, and a delayed one must stay scheduled.
func TestConcurrentEnqueuesEachStoredOnce(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.reg.Task("report", noop)
	ctx := context.Background()
	const producers, each = 64, 25
	var (
		wg  sync.WaitGroup
		mu  sync.Mutex
		ids = map[string]int{}
	)
	for p := range producers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				n := p*each + i
				opts := []jobs.EnqueueOption{jobs.WithUser(fmt.Sprint("u", n))}
				if n%10 == 0 {
					opts = append(opts, jobs.WithDelay(time.Hour))
				}
				in, err := b.client.Enqueue(ctx, "report", map[string]int{"n": n}, opts...)
				if err != nil {
					t.Error(err)
					return
				}
				want := jobs.StatePending
				if n%10 == 0 {
					want = jobs.StateScheduled
				}
				if in.State != want {
					t.Errorf("job %d: state %s, want %s", n, in.State, want)
				}
				mu.Lock()
				ids[in.ID] = n
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if len(ids) != producers*each {
		t.Fatalf("%d distinct ids, want %d", len(ids), producers*each)
	}
	pending := b.rdb.LLen(ctx, b.prefix+"{default}:pending").Val()
	scheduled := b.rdb.ZCard(ctx, b.prefix+"{default}:scheduled").Val()
	if pending != producers*each*9/10 || scheduled != producers*each/10 {
		t.Fatalf("pending %d, scheduled %d; want %d and %d", pending, scheduled, producers*each*9/10, producers*each/10)
	}
	for id, n := range ids {
		if n%97 != 0 && n%10 != 0 {
			continue
		}
		st, err := b.client.Status(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		var p map[string]int
		if err := json.Unmarshal(st.Payload, &p); err != nil || p["n"] != n || st.UserID != fmt.Sprint("u", n) {
			t.Errorf("job %d stored as payload %s user %q", n, st.Payload, st.UserID)
		}
	}
}

func TestEnqueueManyBatch(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.reg.Task("a", noop)
	ctx := context.Background()
	first, err := b.client.Enqueue(ctx, "a", 0, jobs.WithUnique("k", time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	infos, err := b.client.EnqueueMany(ctx,
		jobs.EnqueueRequest{Name: "a", Payload: 1},
		jobs.EnqueueRequest{Name: "a", Payload: 2, Options: []jobs.EnqueueOption{jobs.WithUnique("k", time.Minute)}},
		jobs.EnqueueRequest{Name: "nope", Payload: 3},
		jobs.EnqueueRequest{Name: "a", Payload: 4, Options: []jobs.EnqueueOption{jobs.WithDelay(time.Hour)}},
	)
	var be *jobs.BatchError
	if !errors.As(err, &be) || !errors.Is(err, jobs.ErrDuplicate) {
		t.Fatalf("err = %v, want a BatchError with a duplicate", err)
	}
	if be.Errs[0] != nil || be.Errs[1] == nil || be.Errs[2] == nil || be.Errs[3] != nil {
		t.Fatalf("per-request errors = %v", be.Errs)
	}
	if infos[1].ID != first.ID {
		t.Errorf("duplicate should name the first job %s, got %s", first.ID, infos[1].ID)
	}
	if infos[0].State != jobs.StatePending || infos[3].State != jobs.StateScheduled {
		t.Errorf("states = %s, %s", infos[0].State, infos[3].State)
	}
	for _, i := range []int{0, 3} {
		st, err := b.client.Status(ctx, infos[i].ID)
		if err != nil || st.State != infos[i].State {
			t.Errorf("Status(%d) = %+v, %v", i, st, err)
		}
	}

	// A big batch is one pipeline and every job lands.
	reqs := make([]jobs.EnqueueRequest, 500)
	for i := range reqs {
		reqs[i] = jobs.EnqueueRequest{Name: "a", Payload: json.RawMessage(`{"i":1}`)}
	}
	if _, err := b.client.EnqueueMany(ctx, reqs...); err != nil {
		t.Fatal(err)
	}
	if n := b.rdb.LLen(ctx, b.prefix+"{default}:pending").Val(); n != 502 {
		t.Fatalf("pending = %d, want 502", n)
	}
}
