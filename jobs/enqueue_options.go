package jobs

import (
	"fmt"
	"time"
)

// EnqueueOption configures one Enqueue.
type EnqueueOption func(*enqueueConfig)

type enqueueConfig struct {
	queue       string
	userID      string
	workspaceID string
	runAt       time.Time
	delay       time.Duration
	uniqueKey   string
	uniqueTTL   time.Duration
	maxAttempts int
	id          string
	err         error
}

// DefaultQueue is the queue of jobs enqueued without WithQueue.
const DefaultQueue = "default"

// WithQueue puts the job on queue instead of DefaultQueue. A worker runs
// the queues listed in WorkerOptions.Queues.
func WithQueue(queue string) EnqueueOption {
	return func(c *enqueueConfig) { c.queue = queue }
}

// WithUser records the user the job acts for (Job.UserID).
func WithUser(id string) EnqueueOption {
	return func(c *enqueueConfig) { c.userID = id }
}

// WithWorkspace records the workspace the job belongs to (Job.WorkspaceID).
func WithWorkspace(id string) EnqueueOption {
	return func(c *enqueueConfig) { c.workspaceID = id }
}

// WithDelay makes the job runnable d from now (within a second of it).
func WithDelay(d time.Duration) EnqueueOption {
	return func(c *enqueueConfig) { c.delay = d; c.runAt = time.Time{} }
}

// WithRunAt makes the job runnable at t (within a second of it).
func WithRunAt(t time.Time) EnqueueOption {
	return func(c *enqueueConfig) { c.runAt = t; c.delay = 0 }
}

// WithUnique makes the job unique by key for up to ttl: while a job
// enqueued with the same key (on the same queue) is scheduled, pending,
// retrying or running, Enqueue returns ErrDuplicate and that job's id. The
// key is released when the job succeeds or dies, or after ttl at the latest.
func WithUnique(key string, ttl time.Duration) EnqueueOption {
	return func(c *enqueueConfig) {
		c.uniqueKey = key
		c.uniqueTTL = ttl
		if key == "" || ttl < time.Millisecond {
			c.err = fmt.Errorf("jobs: WithUnique needs a non-empty key and a ttl of at least 1ms (got %q, %s)", key, ttl)
		}
	}
}

// WithMaxAttempts overrides the task's MaxAttempts for this job.
func WithMaxAttempts(n int) EnqueueOption {
	return func(c *enqueueConfig) {
		c.maxAttempts = n
		if n < 1 {
			c.err = fmt.Errorf("jobs: WithMaxAttempts needs at least 1 (got %d)", n)
		}
	}
}

// WithID sets the job's id instead of a generated UUIDv7. Use it to tie a
// job to an id of your own. Enqueue checks the id on the job's queue, in
// the same atomic step that stores the job:
//
//   - no job has it, or only a finished one whose status is still kept (a
//     succeeded job within the workers' ResultRetention, or a dead job):
//     a fresh job is stored under it. It starts with no attempts, result
//     or error, runs again in full, and a dead job leaves the dead set.
//   - a job that has not finished has it (scheduled, pending, running or
//     retrying): Enqueue returns ErrDuplicateID and leaves that job as it
//     was, so one id never has two runs at once.
//
// The check covers one queue only: the caller must not use an id on two
// queues, or Status may report either job.
func WithID(id string) EnqueueOption {
	return func(c *enqueueConfig) { c.id = id }
}
