package jobs

import (
	"context"
	"fmt"
)

// Hooks are told about a worker's runs, for the kernel's metrics and
// traces (WorkerOptions.Hooks). Every field is optional; unset, they cost
// a run nothing.
type Hooks struct {
	// Run wraps each handler call. ctx is the handler's context; the
	// returned context is the one the handler gets (tracing puts the run's
	// span in it), and done, when not nil, is called with the handler's
	// error once it returned.
	Run func(ctx context.Context, job *Job) (runCtx context.Context, done func(err error))

	// Outcome is told how each run of a known task ended: OutcomeSucceeded,
	// OutcomeFailed (it will be retried) or OutcomeDead (moved to the dead
	// set). It must be quick.
	Outcome func(task, outcome string)
}

// The outcomes Hooks.Outcome is told.
const (
	OutcomeSucceeded = "succeeded"
	OutcomeFailed    = "failed"
	OutcomeDead      = "dead"
)

// WithTraceParent makes Enqueue store with each job the W3C traceparent
// that fn returns for the enqueuing context (the kernel's tracing passes
// the current span's), so that the job's run can link to it (Job.TraceParent).
// fn returns "" when there is nothing to carry. A job carrying one is
// stored in a format that workers older than this option do not read.
func WithTraceParent(fn func(ctx context.Context) string) ClientOption {
	return func(c *clientConfig) { c.traceParent = fn }
}

// QueueDepth is how many jobs of one queue are in each state.
type QueueDepth struct {
	Queue     string
	Pending   int64 // ready, waiting for a worker
	Running   int64 // held by a worker under a lease
	Scheduled int64 // waiting for their run-at time or a retry's backoff
	Dead      int64 // in the dead set
}

// QueueDepths counts the jobs of every queue a job was ever enqueued on,
// in one round trip. Without Redis it returns ErrNoBackend.
func (c *Client) QueueDepths(ctx context.Context) ([]QueueDepth, error) {
	if err := c.ok(); err != nil {
		return nil, err
	}
	ds, err := c.b.Depths(ctx)
	if err != nil {
		return nil, fmt.Errorf("jobs: queue depths: %w", unavailable(err))
	}
	out := make([]QueueDepth, len(ds))
	for i, d := range ds {
		out[i] = QueueDepth{Queue: d.Queue, Pending: d.Pending, Running: d.Running, Scheduled: d.Scheduled, Dead: d.Dead}
	}
	return out, nil
}

func (w *Worker) outcome(task, outcome string) {
	if w.opts.Hooks.Outcome != nil {
		w.opts.Hooks.Outcome(task, outcome)
	}
}
