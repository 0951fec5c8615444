package jobs_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"

	"appkernel/jobs"
)

func noop(context.Context, *jobs.Job) (any, error) { return nil, nil }

type mailTask struct{}

func (mailTask) Name() string                                   { return "send_email" }
func (mailTask) Handle(context.Context, *jobs.Job) (any, error) { return "sent", nil }

func mustPanic(t *testing.T, what string, fn func()) {
	t.Helper()
	defer func() {
		if recover() == nil {
			t.Fatalf("%s did not panic", what)
		}
	}()
	fn()
}

func TestRegistryRejectsProgrammingErrors(t *testing.T) {
	reg := jobs.NewRegistry()
	reg.Task("send_email", noop)
	mustPanic(t, "duplicate name", func() { reg.Task("send_email", noop) })
	mustPanic(t, "duplicate through Register", func() { reg.Register(mailTask{}) })
	mustPanic(t, "empty name", func() { reg.Task("", noop) })
	mustPanic(t, "name with a space", func() { reg.Task("send email", noop) })
	mustPanic(t, "name with a brace", func() { reg.Task("a{b}", noop) })
	mustPanic(t, "nil handler", func() { reg.Task("x", nil) })
	mustPanic(t, "zero attempts", func() { reg.Task("y", noop, jobs.MaxAttempts(0)) })
	mustPanic(t, "zero timeout", func() { reg.Task("z", noop, jobs.Timeout(0)) })
}

func TestRegistryRegisterStructTask(t *testing.T) {
	reg := jobs.NewRegistry()
	reg.Register(mailTask{})
	if got := reg.Names(); len(got) != 1 || got[0] != "send_email" {
		t.Fatalf("Names() = %v", got)
	}
}

func TestNoBackend(t *testing.T) {
	ctx := context.Background()
	var nilClient *jobs.Client
	for name, c := range map[string]*jobs.Client{"nil client": nilClient, "nil redis": jobs.NewClient(nil)} {
		if _, err := c.Enqueue(ctx, "send_email", nil); !errors.Is(err, jobs.ErrNoBackend) {
			t.Errorf("%s: Enqueue err = %v, want ErrNoBackend", name, err)
		}
		if _, err := c.EnqueueMany(ctx, jobs.EnqueueRequest{Name: "x"}); !errors.Is(err, jobs.ErrNoBackend) {
			t.Errorf("%s: EnqueueMany err = %v, want ErrNoBackend", name, err)
		}
		if _, err := c.Status(ctx, "x"); !errors.Is(err, jobs.ErrNoBackend) {
			t.Errorf("%s: Status err = %v, want ErrNoBackend", name, err)
		}
		if err := c.RetryDead(ctx, "x"); !errors.Is(err, jobs.ErrNoBackend) {
			t.Errorf("%s: RetryDead err = %v", name, err)
		}
	}
	var sc interface{ HTTPStatus() int }
	if !errors.As(jobs.ErrNoBackend, &sc) || sc.HTTPStatus() != http.StatusServiceUnavailable {
		t.Errorf("ErrNoBackend should render as 503")
	}
	if err := jobs.NewWorker(nil, jobs.NewRegistry(), jobs.WorkerOptions{}).Run(ctx); !errors.Is(err, jobs.ErrNoBackend) {
		t.Errorf("worker without Redis: %v", err)
	}
}

func TestWorkerOptionsValidated(t *testing.T) {
	b := setup(t)
	for _, o := range []jobs.WorkerOptions{
		{Concurrency: -1},
		{Queues: []string{"a{b}"}},
		{Queues: []string{"a", "a"}},
		{Lease: 10},
	} {
		err := jobs.NewWorker(b.rdb, b.reg, o).Start(context.Background())
		if err == nil || !strings.Contains(err.Error(), "WorkerOptions.") {
			t.Errorf("Start(%+v) = %v, want an error naming the field", o, err)
		}
	}
}

func TestJobDecode(t *testing.T) {
	j := &jobs.Job{ID: "1", Name: "t", Payload: json.RawMessage(`{"n":3}`)}
	v, err := jobs.Payload[struct{ N int }](j)
	if err != nil || v.N != 3 {
		t.Fatalf("Payload = %+v, %v", v, err)
	}
	if _, err := jobs.Payload[int](j); err == nil {
		t.Fatal("decoding an object into an int should fail")
	}
}
