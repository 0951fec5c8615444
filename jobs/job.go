package jobs

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"time"

	"appkernel/cache"
	"appkernel/db"
)

// Job is one run of a job, as its handler sees it.
type Job struct {
	ID          string          // unique id, returned by Enqueue
	Name        string          // task name
	Queue       string          // queue it was enqueued on
	Payload     json.RawMessage // the payload given to Enqueue, as JSON
	Attempt     int             // 1 on the first run
	MaxAttempts int             // runs allowed before the dead set
	UserID      string          // from WithUser, if any
	WorkspaceID string          // from WithWorkspace, if any
	EnqueuedAt  time.Time
	// TraceParent is the W3C traceparent of the span that enqueued the
	// job, when the client carried one (WithTraceParent), else "".
	TraceParent string
	// Logger logs with the job's id, task name and attempt attached.
	Logger *slog.Logger

	store  *db.Store
	cache  cache.Cache
	client *Client
}

// Store returns the entity store of the worker's kernel (WorkerOptions.Store),
// or nil when the worker was given none.
func (j *Job) Store() *db.Store { return j.store }

// Cache returns the cache of the worker's kernel (WorkerOptions.Cache), or
// nil when the worker was given none.
func (j *Job) Cache() cache.Cache { return j.cache }

// Jobs returns a Client on the worker's Redis, to enqueue follow-up jobs
// (WorkerOptions.Client, else one on the worker's prefix and Registry).
func (j *Job) Jobs() *Client { return j.client }

// Decode unmarshals the payload into v.
func (j *Job) Decode(v any) error {
	if err := json.Unmarshal(j.Payload, v); err != nil {
		return fmt.Errorf("jobs: decode payload of %s job %s: %w", j.Name, j.ID, err)
	}
	return nil
}

// Payload decodes the payload of job into a T.
func Payload[T any](job *Job) (T, error) {
	var v T
	err := job.Decode(&v)
	return v, err
}

// Typed adapts a handler taking a decoded payload. A payload that does not
// decode into T fails the job permanently (no retry can fix it).
func Typed[T any](fn func(ctx context.Context, job *Job, payload T) (any, error)) Handler {
	return func(ctx context.Context, job *Job) (any, error) {
		v, err := Payload[T](job)
		if err != nil {
			return nil, Permanent(err)
		}
		return fn(ctx, job, v)
	}
}
