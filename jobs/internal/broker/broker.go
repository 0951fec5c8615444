// Package broker is the Redis side of appkernel/jobs: key layout, Lua
// scripts and the calls that run them. Every state change of a job is one
// script call; batches of jobs share a call.
package broker

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"appkernel/internal/coalesce"
)

// Broker runs the job scripts against one Redis under one key prefix.
type Broker struct {
	rdb    redis.UniversalClient
	prefix string

	keys       sync.Map // queue -> Keys
	registered sync.Map // queue -> struct{}: already in the queues set
	enqueues   *coalesce.Coalescer[*Message, Enqueued]
}

// New returns a Broker; prefix is prepended to every key (e.g. "appkernel:").
func New(rdb redis.UniversalClient, prefix string) *Broker {
	return &Broker{rdb: rdb, prefix: prefix, enqueues: newEnqueueCoalescer()}
}

// Keys are the Redis keys of one queue. They share the hash tag "{queue}"
// so that they live in one Redis Cluster slot.
type Keys struct {
	Pending   string // list of ready job ids (LPUSH in, RPOP out)
	Active    string // zset id -> lease deadline (ms)
	Scheduled string // zset id -> run-at (ms), for delayed and retrying jobs
	Dead      string // zset id -> died-at (ms)
	Job       string // prefix of a job's hash key; append the id
	Unique    string // prefix of a unique lock key; append the unique key
	Runs      string // counter: the last run token handed out
}

// Keys returns the keys of queue.
func (b *Broker) Keys(queue string) Keys {
	if k, ok := b.keys.Load(queue); ok {
		return k.(Keys)
	}
	base := b.prefix + "{" + queue + "}:"
	k := Keys{
		Pending:   base + "pending",
		Active:    base + "active",
		Scheduled: base + "scheduled",
		Dead:      base + "dead",
		Job:       base + "job:",
		Unique:    base + "unique:",
		Runs:      base + "runs",
	}
	b.keys.Store(queue, k)
	return k
}

// QueuesKey is the set of every queue a job was ever enqueued on.
func (b *Broker) QueuesKey() string { return b.prefix + "queues" }

// Register records queue in the queues set (once per Broker).
func (b *Broker) Register(ctx context.Context, queues ...string) error {
	var todo []any
	for _, q := range queues {
		if _, ok := b.registered.Load(q); !ok {
			todo = append(todo, q)
		}
	}
	if len(todo) == 0 {
		return nil
	}
	if err := b.rdb.SAdd(ctx, b.QueuesKey(), todo...).Err(); err != nil {
		return err
	}
	for _, q := range todo {
		b.registered.Store(q, struct{}{})
	}
	return nil
}

// Message is a job to enqueue.
type Message struct {
	ID          string
	CallerID    bool // ID was chosen by the caller, so it may be in use
	Queue       string
	Name        string
	Payload     []byte
	MaxAttempts int
	UserID      string
	WorkspaceID string
	TraceParent string        // W3C traceparent of the enqueuing span; "" without tracing
	RunAt       int64         // ms since the epoch, the precision Redis keeps; 0: now
	Delay       time.Duration // runnable this long after Redis stores it (by Redis's clock); 0: RunAt decides
	UniqueKey   string
	UniqueTTL   time.Duration
}

// Enqueued is the outcome of enqueueing one Message.
type Enqueued struct {
	Duplicate  bool   // a job holding the unique key exists
	InUse      bool   // a job under the same id has not finished
	ExistingID string // the job holding the unique key, when Duplicate
	EnqueuedAt time.Time
	State      string // "pending" or "scheduled"; the other job's, when InUse
}

// enqueueCmd is the script, keys and arguments that store m.
func (b *Broker) enqueueCmd(m *Message) (script *redis.Script, keys []string, args []any) {
	k := b.Keys(m.Queue)
	if m.UniqueKey == "" && m.RunAt == 0 && m.Delay == 0 && !m.CallerID {
		return enqueueNowScript, []string{k.Pending, k.Job + m.ID}, []any{m.ID, encodeJob(m)}
	}
	keys = []string{k.Pending, k.Scheduled, k.Job + m.ID, k.Dead}
	if m.UniqueKey != "" {
		keys = append(keys, k.Unique+m.UniqueKey)
	}
	// The call's own token: go-redis sends a command again when its reply
	// was lost, and the script must then answer as the first run did.
	call := strconv.FormatUint(rand.Uint64(), 36)
	return enqueueScript, keys, []any{m.ID, m.RunAt, m.UniqueTTL.Milliseconds(), encodeJob(m), call, m.Delay.Milliseconds()}
}

func parseEnqueued(v any) (Enqueued, error) {
	switch r := v.(type) {
	case int64:
		if r < 0 {
			return Enqueued{EnqueuedAt: time.UnixMilli(-r), State: "scheduled"}, nil
		}
		return Enqueued{EnqueuedAt: time.UnixMilli(r), State: "pending"}, nil
	case string:
		return Enqueued{Duplicate: true, ExistingID: r}, nil
	case []any:
		if len(r) == 1 {
			if st, ok := r[0].(string); ok {
				return Enqueued{InUse: true, State: st}, nil
			}
		}
	}
	return Enqueued{}, fmt.Errorf("jobs: unexpected enqueue reply %v", v)
}

// Enqueue stores one job. A lone caller's job goes out at once in one
// script call; callers arriving while maxInFlight calls are on their way
// leave together in the next pipeline.
func (b *Broker) Enqueue(ctx context.Context, m *Message) (Enqueued, error) {
	if err := b.Register(ctx, m.Queue); err != nil {
		return Enqueued{}, err
	}
	return b.enqueues.Do(ctx, m, b.sendEnqueues)
}

// sendEnqueues runs one batch of the coalescer.
func (b *Broker) sendEnqueues(ctx context.Context, batch []*enqueueCall) {
	if len(batch) == 1 {
		c := batch[0]
		script, keys, args := b.enqueueCmd(c.In)
		v, err := script.Run(ctx, b.rdb, keys, args...).Result()
		if err != nil {
			c.Err = err
			return
		}
		c.Out, c.Err = parseEnqueued(v)
		return
	}
	msgs := make([]*Message, len(batch))
	for i, c := range batch {
		msgs[i] = c.In
	}
	res, errs, err := b.pipelineEnqueue(ctx, msgs)
	for i, c := range batch {
		if err != nil {
			c.Err = err
			continue
		}
		c.Out, c.Err = res[i], errs[i]
	}
}

// EnqueueMany stores jobs in one pipeline. errs[i] is the error of msgs[i];
// the returned error is for the batch as a whole.
func (b *Broker) EnqueueMany(ctx context.Context, msgs []*Message) ([]Enqueued, []error, error) {
	seen := map[string]bool{}
	var queues []string
	for _, m := range msgs {
		if !seen[m.Queue] {
			seen[m.Queue] = true
			queues = append(queues, m.Queue)
		}
	}
	if err := b.Register(ctx, queues...); err != nil {
		return nil, nil, err
	}
	return b.pipelineEnqueue(ctx, msgs)
}

// pipelineEnqueue runs the enqueue script for each of msgs in one
// pipeline (two if Redis had to be given the script first).
func (b *Broker) pipelineEnqueue(ctx context.Context, msgs []*Message) ([]Enqueued, []error, error) {
	out := make([]Enqueued, len(msgs))
	errs := make([]error, len(msgs))
	todo := make([]int, len(msgs))
	for i := range todo {
		todo[i] = i
	}
	for try := 0; len(todo) > 0; try++ {
		pipe := b.rdb.Pipeline()
		cmds := make([]*redis.Cmd, len(todo))
		for j, i := range todo {
			script, keys, args := b.enqueueCmd(msgs[i])
			cmds[j] = script.EvalSha(ctx, pipe, keys, args...)
		}
		_, _ = pipe.Exec(ctx)
		var again []int
		for j, i := range todo {
			v, err := cmds[j].Result()
			if err != nil && try == 0 && redis.HasErrorPrefix(err, "NOSCRIPT") {
				again = append(again, i)
				continue
			}
			if err != nil {
				errs[i] = err
				continue
			}
			out[i], errs[i] = parseEnqueued(v)
		}
		if len(again) > 0 {
			for _, s := range []*redis.Script{enqueueNowScript, enqueueScript} {
				if err := s.Load(ctx, b.rdb).Err(); err != nil {
					return nil, nil, err
				}
			}
		}
		todo = again
	}
	return out, errs, nil
}

// Fetched is a job claimed by Fetch.
type Fetched struct {
	ID          string
	Attempt     int
	Run         int64 // the run's token: pass it back to Extend and Complete
	Name        string
	Payload     []byte
	MaxAttempts int // 0: not set at enqueue
	UserID      string
	WorkspaceID string
	TraceParent string
	EnqueuedAt  time.Time
}

// Fetch claims up to n pending jobs of queue with a lease of the given
// length. It first makes due scheduled jobs pending.
func (b *Broker) Fetch(ctx context.Context, queue string, n int, lease time.Duration) ([]Fetched, error) {
	k := b.Keys(queue)
	v, err := fetchScript.Run(ctx, b.rdb, []string{k.Pending, k.Active, k.Scheduled, k.Runs},
		n, lease.Milliseconds(), k.Job).Result()
	if err != nil {
		return nil, err
	}
	r, ok := v.([]any)
	if !ok || len(r) < 1 {
		return nil, fmt.Errorf("jobs: unexpected fetch reply %v", v)
	}
	r = r[1:]
	out := make([]Fetched, 0, len(r)/5)
	for i := 0; i+4 < len(r); i += 5 {
		// An undecodable job gets no task name, so the worker records it
		// as a failed run instead of leaving it leased.
		d, _ := decodeJob(str(r[i+3]))
		out = append(out, Fetched{
			ID:          str(r[i]),
			Attempt:     int(num(r[i+1])),
			Run:         num(r[i+2]),
			Name:        d.Name,
			Payload:     []byte(d.Payload),
			MaxAttempts: d.MaxAttempts,
			UserID:      d.UserID,
			WorkspaceID: d.WorkspaceID,
			TraceParent: d.TraceParent,
			EnqueuedAt:  time.UnixMilli(num(r[i+4])),
		})
	}
	return out, nil
}

// Outcome ops.
const (
	OpSucceeded = "s"
	OpRetry     = "r"
	OpDead      = "d"
	// OpRelease gives a run up without an outcome: the job is pending again
	// at once, or after Outcome.Delay, and the run does not count as an
	// attempt (a stopping worker out of grace releases the runs it
	// abandons; a worker without the job's task gives it back).
	OpRelease = "l"
)

// Outcome is how one run of a job ended.
type Outcome struct {
	Op          string
	ID          string
	Run         int64         // the run's token, from Fetched
	Data        string        // result JSON (succeeded) or error text
	Delay       time.Duration // before the retry, or before a released job is due
	MaxAttempts int           // the attempts the job was run with
}

// Complete records outcomes of jobs of one queue in one round trip and
// returns how many runs still held their lease (the others' jobs were
// requeued and their outcomes dropped).
func (b *Broker) Complete(ctx context.Context, queue string, outs []Outcome, retention time.Duration) (int, error) {
	k := b.Keys(queue)
	args := make([]any, 0, 2+6*len(outs))
	args = append(args, k.Job, retention.Milliseconds())
	for _, o := range outs {
		args = append(args, o.Op, o.ID, o.Run, o.Data, o.Delay.Milliseconds(), o.MaxAttempts)
	}
	n, err := completeScript.Run(ctx, b.rdb, []string{k.Active, k.Scheduled, k.Dead, k.Pending}, args...).Int()
	return n, err
}

// RunRef names one run of a job: its id and the run token Fetch gave.
type RunRef struct {
	ID  string
	Run int64
}

// Extend renews the leases of runs on queue; a run that lost its lease
// (its job was requeued, or ran again) renews nothing.
func (b *Broker) Extend(ctx context.Context, queue string, runs []RunRef, lease time.Duration) error {
	k := b.Keys(queue)
	args := make([]any, 0, 2+2*len(runs))
	args = append(args, lease.Milliseconds(), k.Job)
	for _, r := range runs {
		args = append(args, r.ID, r.Run)
	}
	return extendScript.Run(ctx, b.rdb, []string{k.Active}, args...).Err()
}

// Maintain promotes due scheduled jobs and requeues jobs whose lease
// expired. next is the time until the next scheduled job, or -1.
func (b *Broker) Maintain(ctx context.Context, queue string, limit int) (promoted, recovered int, next time.Duration, err error) {
	k := b.Keys(queue)
	v, err := maintainScript.Run(ctx, b.rdb, []string{k.Pending, k.Active, k.Scheduled}, k.Job, limit).Int64Slice()
	if err != nil {
		return 0, 0, 0, err
	}
	if len(v) != 3 {
		return 0, 0, 0, fmt.Errorf("jobs: unexpected maintain reply %v", v)
	}
	next = -1
	if v[2] >= 0 {
		next = time.Duration(v[2]) * time.Millisecond
	}
	return int(v[0]), int(v[1]), next, nil
}

// WaitReady blocks until queue has a pending job or timeout passes. It
// takes nothing: the job is moved from the list's tail back to its tail.
func (b *Broker) WaitReady(ctx context.Context, queue string, timeout time.Duration) error {
	k := b.Keys(queue)
	err := b.rdb.BLMove(ctx, k.Pending, k.Pending, "RIGHT", "RIGHT", timeout).Err()
	if errors.Is(err, redis.Nil) {
		return nil
	}
	return err
}

// Queues lists the queues jobs were enqueued on.
func (b *Broker) Queues(ctx context.Context) ([]string, error) {
	return b.rdb.SMembers(ctx, b.QueuesKey()).Result()
}

// ErrNotFound is returned when no queue holds the job.
var ErrNotFound = errors.New("job not found")

// Get returns the stored fields of job id and the queue holding it.
func (b *Broker) Get(ctx context.Context, id string) (map[string]string, string, error) {
	queues, err := b.Queues(ctx)
	if err != nil {
		return nil, "", err
	}
	if len(queues) == 0 {
		return nil, "", ErrNotFound
	}
	pipe := b.rdb.Pipeline()
	cmds := make([]*redis.MapStringStringCmd, len(queues))
	for i, q := range queues {
		cmds[i] = pipe.HGetAll(ctx, b.Keys(q).Job+id)
	}
	if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
		return nil, "", err
	}
	for i, c := range cmds {
		if m := c.Val(); len(m) > 0 {
			expandJob(m)
			return m, queues[i], nil
		}
	}
	return nil, "", ErrNotFound
}

// Dead lists dead jobs of queue, most recent first.
func (b *Broker) Dead(ctx context.Context, queue string, offset, limit int) ([]string, []map[string]string, error) {
	k := b.Keys(queue)
	ids, err := b.rdb.ZRevRange(ctx, k.Dead, int64(offset), int64(offset+limit-1)).Result()
	if err != nil || len(ids) == 0 {
		return nil, nil, err
	}
	pipe := b.rdb.Pipeline()
	cmds := make([]*redis.MapStringStringCmd, len(ids))
	for i, id := range ids {
		cmds[i] = pipe.HGetAll(ctx, k.Job+id)
	}
	if _, err := pipe.Exec(ctx); err != nil {
		return nil, nil, err
	}
	out := make([]map[string]string, len(ids))
	for i, c := range cmds {
		out[i] = c.Val()
		expandJob(out[i])
	}
	return ids, out, nil
}

// RetryDead makes a dead job pending again; false when it is not dead.
func (b *Broker) RetryDead(ctx context.Context, queue, id string) (ok bool, uniqueHolder string, err error) {
	k := b.Keys(queue)
	v, err := retryDeadScript.Run(ctx, b.rdb, []string{k.Pending, k.Dead, k.Job + id}, id).Result()
	if err != nil {
		return false, "", err
	}
	if s, isID := v.(string); isID {
		return false, s, nil
	}
	n, _ := v.(int64)
	return n == 1, "", nil
}

// DeleteDead removes a dead job; false when it is not dead.
func (b *Broker) DeleteDead(ctx context.Context, queue, id string) (bool, error) {
	k := b.Keys(queue)
	n, err := deleteDeadScript.Run(ctx, b.rdb, []string{k.Dead, k.Job + id}, id).Int()
	return n == 1, err
}

func str(v any) string {
	switch s := v.(type) {
	case string:
		return s
	case int64:
		return strconv.FormatInt(s, 10)
	}
	return ""
}

func num(v any) int64 {
	switch n := v.(type) {
	case int64:
		return n
	case string:
		i, _ := strconv.ParseInt(strings.TrimSpace(n), 10, 64)
		return i
	}
	return 0
}

// Depth is how many jobs of a queue are in each state.
type Depth struct {
	Queue                             string
	Pending, Running, Scheduled, Dead int64
}

// Depths counts the jobs of every known queue, in one pipelined round trip.
func (b *Broker) Depths(ctx context.Context) ([]Depth, error) {
	queues, err := b.Queues(ctx)
	if err != nil || len(queues) == 0 {
		return nil, err
	}
	pipe := b.rdb.Pipeline()
	cmds := make([][4]*redis.IntCmd, len(queues))
	for i, q := range queues {
		k := b.Keys(q)
		cmds[i] = [4]*redis.IntCmd{pipe.LLen(ctx, k.Pending), pipe.ZCard(ctx, k.Active), pipe.ZCard(ctx, k.Scheduled), pipe.ZCard(ctx, k.Dead)}
	}
	if _, err := pipe.Exec(ctx); err != nil {
		return nil, err
	}
	out := make([]Depth, len(queues))
	for i, q := range queues {
		c := cmds[i]
		out[i] = Depth{Queue: q, Pending: c[0].Val(), Running: c[1].Val(), Scheduled: c[2].Val(), Dead: c[3].Val()}
	}
	return out, nil
}
