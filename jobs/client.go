package jobs

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"appkernel/jobs/internal/broker"

	"github.com/google/uuid"
	"github.com/redis/go-redis/v9"
)

// DefaultPrefix is the namespace of every Redis key of the jobs package.
const DefaultPrefix = "appkernel:"

// Client enqueues jobs and reads their state. It is safe for concurrent
// use. A nil *Client is valid: every method returns ErrNoBackend, so code
// holding one works unchanged in a kernel started without Redis.
type Client struct {
	b           *broker.Broker
	reg         *Registry
	traceParent func(context.Context) string // see WithTraceParent
}

// ClientOption configures NewClient.
type ClientOption func(*clientConfig)

type clientConfig struct {
	prefix      string
	reg         *Registry
	traceParent func(context.Context) string
}

// WithPrefix namespaces every key under prefix instead of DefaultPrefix.
// Workers must use the same prefix (WorkerOptions.Prefix).
func WithPrefix(prefix string) ClientOption {
	return func(c *clientConfig) { c.prefix = prefix }
}

// WithRegistry makes Enqueue reject task names the registry does not know
// and record each task's MaxAttempts with the job.
func WithRegistry(reg *Registry) ClientOption {
	return func(c *clientConfig) { c.reg = reg }
}

// NewClient returns a Client over rdb. With a nil rdb every method returns
// ErrNoBackend.
func NewClient(rdb redis.UniversalClient, opts ...ClientOption) *Client {
	cfg := clientConfig{prefix: DefaultPrefix}
	for _, o := range opts {
		o(&cfg)
	}
	c := &Client{reg: cfg.reg, traceParent: cfg.traceParent}
	if rdb != nil {
		c.b = broker.New(rdb, cfg.prefix)
	}
	return c
}

func (c *Client) ok() error {
	if c == nil || c.b == nil {
		return ErrNoBackend
	}
	return nil
}

// EnqueueRequest is one job of EnqueueMany.
type EnqueueRequest struct {
	Name    string
	Payload any
	Options []EnqueueOption
}

func (c *Client) message(name string, payload any, opts []EnqueueOption) (*broker.Message, error) {
	if !validName(name, 128) {
		return nil, fmt.Errorf("jobs: invalid task name %q", name)
	}
	maxAttempts := 0
	if c.reg != nil {
		t, ok := c.reg.lookup(name)
		if !ok {
			return nil, fmt.Errorf("jobs: no task %q is registered", name)
		}
		maxAttempts = t.maxAttempts
	}
	cfg := enqueueConfig{queue: DefaultQueue}
	for _, o := range opts {
		o(&cfg)
	}
	if cfg.err != nil {
		return nil, cfg.err
	}
	if !validName(cfg.queue, 64) {
		return nil, fmt.Errorf("jobs: invalid queue name %q: use letters, digits, '_', '.', ':', '-' (at most 64, starting with a letter or digit)", cfg.queue)
	}
	var raw []byte
	switch p := payload.(type) {
	case json.RawMessage:
		if !json.Valid(p) {
			return nil, fmt.Errorf("jobs: payload of %s is not valid JSON", name)
		}
		raw = p
	default:
		b, err := json.Marshal(payload)
		if err != nil {
			return nil, fmt.Errorf("jobs: payload of %s: %w", name, err)
		}
		raw = b
	}
	if cfg.maxAttempts > 0 {
		maxAttempts = cfg.maxAttempts
	}
	id := cfg.id
	if id == "" {
		u, err := uuid.NewV7()
		if err != nil {
			return nil, err
		}
		id = u.String()
	}
	m := &broker.Message{
		ID: id, CallerID: cfg.id != "", Queue: cfg.queue, Name: name, Payload: raw, MaxAttempts: maxAttempts,
		UserID: cfg.userID, WorkspaceID: cfg.workspaceID,
		UniqueKey: cfg.uniqueKey, UniqueTTL: cfg.uniqueTTL,
	}
	switch {
	case cfg.delay > 0:
		m.Delay = cfg.delay // from Redis's clock, not this process's
	case !cfg.runAt.IsZero():
		m.RunAt = cfg.runAt.UnixMilli()
	}
	return m, nil
}

func enqueuedInfo(m *broker.Message, e broker.Enqueued) (Info, error) {
	if e.Duplicate {
		return Info{ID: e.ExistingID, Name: m.Name, Queue: m.Queue}, fmt.Errorf("%w: job %s holds unique key %q", ErrDuplicate, e.ExistingID, m.UniqueKey)
	}
	if e.InUse {
		return Info{ID: m.ID, Queue: m.Queue, State: State(e.State)}, fmt.Errorf("%w: job %s on queue %s is %s", ErrDuplicateID, m.ID, m.Queue, e.State)
	}
	in := Info{
		ID: m.ID, Name: m.Name, Queue: m.Queue, State: State(e.State),
		MaxAttempts: m.MaxAttempts, Payload: m.Payload,
		UserID: m.UserID, WorkspaceID: m.WorkspaceID,
		EnqueuedAt: e.EnqueuedAt, RunAt: e.EnqueuedAt,
	}
	switch {
	case m.Delay > 0:
		in.RunAt = e.EnqueuedAt.Add(m.Delay.Truncate(time.Millisecond))
	case m.RunAt > e.EnqueuedAt.UnixMilli():
		in.RunAt = time.UnixMilli(m.RunAt)
	}
	return in, nil
}

// Enqueue adds a job of task name with payload (marshalled to JSON now, so
// an unmarshalable payload fails here, not in the worker) in one Redis
// script call. A lone caller's job goes out at once; calls made while
// others are on their way to Redis leave together in one pipeline, so
// many concurrent producers share round trips. Each call still returns
// only when its own job is stored (or refused). With WithUnique, a
// duplicate returns ErrDuplicate and an Info whose ID is the first job's.
// With WithID, an id whose job has finished starts a fresh job, and an id
// whose job has not is refused with ErrDuplicateID (see WithID). Without
// Redis it returns ErrNoBackend; when Redis cannot be reached (down, or
// the kernel's breaker open after a failure), an error wrapping
// ErrUnavailable (HTTP 503 jobs_unavailable).
func (c *Client) Enqueue(ctx context.Context, name string, payload any, opts ...EnqueueOption) (Info, error) {
	if err := c.ok(); err != nil {
		return Info{}, err
	}
	m, err := c.message(name, payload, opts)
	if err != nil {
		return Info{}, err
	}
	if c.traceParent != nil {
		m.TraceParent = c.traceParent(ctx)
	}
	e, err := c.b.Enqueue(ctx, m)
	if err != nil {
		return Info{}, fmt.Errorf("jobs: enqueue %s: %w", name, unavailable(err))
	}
	return enqueuedInfo(m, e)
}

// EnqueueMany adds many jobs in one pipelined round trip. infos[i] is the
// job of reqs[i]. Each job is stored (or refused) on its own, in the order
// of reqs, under the same rules as Enqueue: when some requests fail
// (invalid, ErrDuplicate, ErrDuplicateID), the error is a *BatchError
// whose Errs[i] says why, and the other jobs are enqueued. When Redis
// cannot be reached the error wraps ErrUnavailable. Two requests
// with the same WithID id store the first; the second gets ErrDuplicateID.
func (c *Client) EnqueueMany(ctx context.Context, reqs ...EnqueueRequest) ([]Info, error) {
	if err := c.ok(); err != nil {
		return nil, err
	}
	infos := make([]Info, len(reqs))
	errs := make([]error, len(reqs))
	msgs := make([]*broker.Message, 0, len(reqs))
	idx := make([]int, 0, len(reqs))
	failed := false
	for i, r := range reqs {
		m, err := c.message(r.Name, r.Payload, r.Options)
		if err != nil {
			errs[i] = err
			failed = true
			continue
		}
		if c.traceParent != nil {
			m.TraceParent = c.traceParent(ctx)
		}
		msgs = append(msgs, m)
		idx = append(idx, i)
	}
	if len(msgs) > 0 {
		res, rerrs, err := c.b.EnqueueMany(ctx, msgs)
		if err != nil {
			return nil, fmt.Errorf("jobs: enqueue batch: %w", unavailable(err))
		}
		for j, i := range idx {
			if rerrs[j] != nil {
				errs[i] = fmt.Errorf("jobs: enqueue %s: %w", msgs[j].Name, unavailable(rerrs[j]))
				failed = true
				continue
			}
			infos[i], errs[i] = enqueuedInfo(msgs[j], res[j])
			if errs[i] != nil {
				failed = true
			}
		}
	}
	if failed {
		return infos, &BatchError{Errs: errs}
	}
	return infos, nil
}

// BatchError reports the requests of EnqueueMany that failed.
type BatchError struct {
	Errs []error // Errs[i] is nil when request i was enqueued
}

func (e *BatchError) Error() string {
	n, first := 0, error(nil)
	for _, err := range e.Errs {
		if err != nil {
			if first == nil {
				first = err
			}
			n++
		}
	}
	return fmt.Sprintf("jobs: %d of %d jobs not enqueued; first: %v", n, len(e.Errs), first)
}

// Unwrap returns the failures, so errors.Is(err, ErrDuplicate) works.
func (e *BatchError) Unwrap() []error {
	var out []error
	for _, err := range e.Errs {
		if err != nil {
			out = append(out, err)
		}
	}
	return out
}

// Status returns the state, attempts, last error and result of job id.
// A job is found while it lives and, once succeeded, for the workers'
// ResultRetention; after that it is ErrNotFound.
func (c *Client) Status(ctx context.Context, id string) (Info, error) {
	if err := c.ok(); err != nil {
		return Info{}, err
	}
	m, q, err := c.b.Get(ctx, id)
	if errors.Is(err, broker.ErrNotFound) {
		return Info{}, fmt.Errorf("%w: %s", ErrNotFound, id)
	}
	if err != nil {
		return Info{}, fmt.Errorf("jobs: status of %s: %w", id, unavailable(err))
	}
	return infoFromHash(id, q, m), nil
}
