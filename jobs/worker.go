package jobs

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	"appkernel/cache"
	"appkernel/db"
	"appkernel/jobs/internal/broker"

	"github.com/redis/go-redis/v9"
)

// WorkerOptions configure a Worker. The zero value is valid.
type WorkerOptions struct {
	// Concurrency is how many jobs run at once. Defaults to 10.
	Concurrency int
	// Queues the worker runs, all served at once (no priorities).
	// Defaults to []string{DefaultQueue}.
	Queues []string
	// Prefix namespaces the Redis keys; it must match the clients'
	// (WithPrefix). Defaults to DefaultPrefix.
	Prefix string
	// Lease is how long a running job stays claimed without renewal. The
	// worker renews it every Lease/3; when a worker dies, its jobs run
	// again within Lease + RecoveryInterval. Defaults to 15s.
	Lease time.Duration
	// RecoveryInterval is how often expired leases and due delayed or
	// retrying jobs are checked. Defaults to 1s.
	RecoveryInterval time.Duration
	// ShutdownTimeout is how long Run lets running jobs finish once its
	// context is done; jobs still running then are left to their leases
	// and run again elsewhere. Defaults to 10s. (Stop takes its grace from
	// its own context instead.)
	ShutdownTimeout time.Duration
	// ResultRetention is how long a succeeded job and its result stay
	// readable by Client.Status. Defaults to 24h.
	ResultRetention time.Duration
	// Backoff returns the wait before retry number attempt (1 after the
	// first failure). Defaults to ExponentialBackoff(time.Second, time.Hour).
	Backoff func(attempt int) time.Duration
	// Logger receives the worker's logs; each Job.Logger derives from it.
	// Defaults to slog.Default().
	Logger *slog.Logger
	// UnknownTaskDelay is how long a job of a task this worker does not
	// have (newer code enqueued it during a rolling deploy) waits before
	// it is due again; it goes back to its queue without spending an
	// attempt, for a worker that has the task. Defaults to 5s.
	UnknownTaskDelay time.Duration

	// Store, Cache and Client are what handlers reach through Job.Store,
	// Job.Cache and Job.Jobs: the kernel passes its own. Store and Cache
	// default to nil; Client defaults to a Client on the worker's Redis,
	// Prefix and Registry.
	Store  *db.Store
	Cache  cache.Cache
	Client *Client

	// Hooks are told about runs, for metrics and traces. Defaults to none.
	Hooks Hooks
}

func (o WorkerOptions) withDefaults() WorkerOptions {
	if o.Concurrency == 0 {
		o.Concurrency = 10
	}
	if len(o.Queues) == 0 {
		o.Queues = []string{DefaultQueue}
	}
	if o.Prefix == "" {
		o.Prefix = DefaultPrefix
	}
	if o.Lease == 0 {
		o.Lease = 15 * time.Second
	}
	if o.RecoveryInterval == 0 {
		o.RecoveryInterval = time.Second
	}
	if o.ShutdownTimeout == 0 {
		o.ShutdownTimeout = 10 * time.Second
	}
	if o.ResultRetention == 0 {
		o.ResultRetention = 24 * time.Hour
	}
	if o.Backoff == nil {
		o.Backoff = ExponentialBackoff(time.Second, time.Hour)
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.UnknownTaskDelay == 0 {
		o.UnknownTaskDelay = 5 * time.Second
	}
	return o
}

func (o WorkerOptions) validate() error {
	if o.Concurrency < 1 {
		return fmt.Errorf("jobs: WorkerOptions.Concurrency must be at least 1 (0 means 10), got %d", o.Concurrency)
	}
	seen := map[string]bool{}
	for _, q := range o.Queues {
		if !validName(q, 64) {
			return fmt.Errorf("jobs: WorkerOptions.Queues: invalid queue name %q", q)
		}
		if seen[q] {
			return fmt.Errorf("jobs: WorkerOptions.Queues lists %q twice", q)
		}
		seen[q] = true
	}
	if o.Lease < 100*time.Millisecond {
		return fmt.Errorf("jobs: WorkerOptions.Lease must be at least 100ms (0 means 15s), got %s", o.Lease)
	}
	if o.RecoveryInterval < 0 || o.ShutdownTimeout < 0 || o.ResultRetention < 0 || o.UnknownTaskDelay < 0 {
		return errors.New("jobs: WorkerOptions durations must not be negative")
	}
	return nil
}

// ExponentialBackoff returns a backoff of base·2^(attempt-1), capped at
// max, with jitter: the wait is drawn from [d/2, 3d/2).
func ExponentialBackoff(base, max time.Duration) func(attempt int) time.Duration {
	return func(attempt int) time.Duration {
		if attempt < 1 {
			attempt = 1
		}
		d := max
		if attempt < 63 {
			if v := base << (attempt - 1); v > 0 && v < max {
				d = v
			}
		}
		if d <= 1 {
			return d
		}
		return d/2 + rand.N(d)
	}
}

const (
	idleWait   = time.Second // how long an idle fetcher blocks per call
	maxBatch   = 256         // jobs per fetch call
	maxAckSize = 512         // outcomes per complete call

	coalesceWait = time.Millisecond // longest wait for more free slots under backlog
)

// Worker runs the jobs of a Registry: it fetches them from Redis, runs
// their handlers, renews their leases and records their outcomes. Build it
// with NewWorker and run it with Run, or Start and Stop. A Worker runs once.
type Worker struct {
	b    *broker.Broker
	reg  *Registry
	opts WorkerOptions
	err  error // from validate, returned by Start
	log  *slog.Logger

	mu      sync.Mutex
	state   int // 0 new, 1 running, 2 stopping or stopped
	baseCtx context.Context

	fetchCancel context.CancelFunc // ends fetchers and maintainers
	hardCtx     context.Context    // parent of every handler's context
	hardCancel  context.CancelFunc
	ackCtx      context.Context // completer's Redis calls
	ackCancel   context.CancelFunc
	renewCancel context.CancelFunc

	loops   sync.WaitGroup // fetchers, maintainers
	running sync.WaitGroup // handlers
	acker   sync.WaitGroup // completer
	renewer sync.WaitGroup

	slots    chan struct{}
	outcomes chan queuedOutcome
	sendMu   sync.RWMutex
	closed   bool

	inMu     sync.Mutex
	inflight map[string]map[string]int64 // queue -> job id -> token of the run holding a lease here

	unknownMu sync.Mutex
	unknown   map[string]bool // task names without a handler here, already logged
}

type queuedOutcome struct {
	queue string
	o     broker.Outcome
}

// NewWorker returns a Worker running reg's tasks from rdb. Invalid options
// are reported by Start (and Run).
func NewWorker(rdb redis.UniversalClient, reg *Registry, opts WorkerOptions) *Worker {
	opts = opts.withDefaults()
	w := &Worker{reg: reg, opts: opts, log: opts.Logger, unknown: map[string]bool{}}
	w.err = opts.validate()
	if rdb == nil {
		w.err = ErrNoBackend
	} else {
		w.b = broker.New(rdb, opts.Prefix)
		if w.opts.Client == nil {
			w.opts.Client = NewClient(rdb, WithPrefix(opts.Prefix), WithRegistry(reg))
		}
	}
	if reg == nil && w.err == nil {
		w.err = errors.New("jobs: NewWorker needs a Registry")
	}
	return w
}

// Run starts the worker and blocks until ctx is done, then stops it,
// letting running jobs finish for up to ShutdownTimeout. It returns nil
// after a clean stop.
func (w *Worker) Run(ctx context.Context) error {
	if err := w.Start(ctx); err != nil {
		return err
	}
	<-ctx.Done()
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), w.opts.ShutdownTimeout)
	defer cancel()
	return w.Stop(sctx)
}

// Start starts fetching and running jobs in the background and returns.
// ctx supplies the values of the handlers' contexts; cancelling it does not
// stop the worker: call Stop. Start fails on invalid options or when the
// worker was already started. Redis need not be up yet: the worker retries.
func (w *Worker) Start(ctx context.Context) error {
	if w.err != nil {
		return w.err
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.state != 0 {
		return errors.New("jobs: worker already started")
	}
	w.state = 1
	w.baseCtx = context.WithoutCancel(ctx)
	var fetchCtx, renewCtx context.Context
	fetchCtx, w.fetchCancel = context.WithCancel(w.baseCtx)
	w.hardCtx, w.hardCancel = context.WithCancel(w.baseCtx)
	w.ackCtx, w.ackCancel = context.WithCancel(w.baseCtx)
	renewCtx, w.renewCancel = context.WithCancel(w.baseCtx)
	w.slots = make(chan struct{}, w.opts.Concurrency)
	w.outcomes = make(chan queuedOutcome, max(4*w.opts.Concurrency, 256))
	w.inflight = make(map[string]map[string]int64, len(w.opts.Queues))
	for _, q := range w.opts.Queues {
		w.inflight[q] = map[string]int64{}
		w.loops.Add(2)
		go w.fetchLoop(fetchCtx, q)
		go w.maintainLoop(fetchCtx, q)
	}
	if len(w.reg.periodics()) > 0 {
		w.loops.Add(1)
		go w.scheduleLoop(fetchCtx)
	}
	w.acker.Add(1)
	go w.completeLoop()
	w.renewer.Add(1)
	go w.renewLoop(renewCtx)
	w.log.Info("jobs worker started", "queues", w.opts.Queues, "concurrency", w.opts.Concurrency, "lease_ms", w.opts.Lease.Milliseconds())
	return nil
}

// Stop stops fetching, lets running jobs finish until ctx is done, records
// their outcomes and returns. Jobs still running when ctx is done have
// their contexts cancelled and their runs released: they are pending again
// at once, and the cut-off run does not count as an attempt, so nothing is
// lost (if Redis cannot be reached to release them, their leases expire
// and they run again, that run counted). A handler that ignores the
// cancellation may still be running when another worker starts its job
// again; its outcome is ignored. Stop returns nil
// when every job finished in time, ctx's error otherwise. Stopping a worker
// that is not running is a no-op.
func (w *Worker) Stop(ctx context.Context) error {
	w.mu.Lock()
	if w.state != 1 {
		w.mu.Unlock()
		return nil
	}
	w.state = 2
	w.mu.Unlock()

	w.fetchCancel()
	var stopErr error
	if !waitCtx(ctx, &w.loops) {
		stopErr = ctx.Err()
	}
	if stopErr == nil && !waitCtx(ctx, &w.running) {
		stopErr = ctx.Err()
	}
	if stopErr != nil {
		// Out of grace: abandon the jobs still running to their leases.
		w.hardCancel()
	}
	w.sendMu.Lock()
	w.closed = true
	close(w.outcomes)
	w.sendMu.Unlock()
	if !waitCtx(ctx, &w.acker) {
		stopErr = ctx.Err()
		w.ackCancel()
		w.acker.Wait()
	}
	if stopErr != nil {
		w.releaseAbandoned()
	}
	w.renewCancel()
	w.renewer.Wait()
	w.hardCancel()
	w.ackCancel()
	if stopErr != nil {
		w.log.Warn("jobs worker stopped before its jobs finished; they are pending again (see the release line) or run again when their leases expire", "error", stopErr)
		return fmt.Errorf("jobs: stop: %w", stopErr)
	}
	w.log.Info("jobs worker stopped")
	return nil
}

// releaseAbandoned gives up the runs whose outcome was not recorded when
// Stop ran out of grace: their jobs are pending again at once, and the run
// does not count as an attempt (a deploy must not use up the last one).
// A job a worker abandons by dying is counted (it may be what kills it):
// its lease expires and the next worker decides on its attempts.
func (w *Worker) releaseAbandoned() {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	w.inMu.Lock()
	byQueue := map[string][]broker.Outcome{}
	for q, set := range w.inflight {
		for id, run := range set {
			byQueue[q] = append(byQueue[q], broker.Outcome{Op: broker.OpRelease, ID: id, Run: run,
				Data: "released: its worker stopped before the run finished"})
		}
	}
	w.inMu.Unlock()
	for q, outs := range byQueue {
		n, err := w.b.Complete(ctx, q, outs, w.opts.ResultRetention)
		if err != nil {
			w.log.Warn("jobs: releasing the runs of a stopping worker failed; their leases will expire", "queue", q, "jobs", len(outs), "error", err)
			continue
		}
		w.log.Info("jobs: released the runs a stopping worker gave up; they are pending again", "queue", q, "jobs", n)
	}
}

// waitCtx waits for wg, or for ctx; it reports whether wg finished.
func waitCtx(ctx context.Context, wg *sync.WaitGroup) bool {
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
		return true
	case <-ctx.Done():
		return false
	}
}

// sleepCtx sleeps d or until ctx is done; it reports whether it slept.
func sleepCtx(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

func (w *Worker) fetchLoop(ctx context.Context, q string) {
	defer w.loops.Done()
	// Fetches run on a context that stop cannot cancel halfway: a fetch
	// that claimed jobs must hand them to handlers.
	fctx := context.WithoutCancel(ctx)
	errWait := 50 * time.Millisecond
	// With a backlog (the last fetch was full), wait a moment for half the
	// slots to free up so that one round trip fetches many jobs instead
	// of one job per freed slot. Without one, fetch at once.
	backlog := false
	want := min(max(1, w.opts.Concurrency/2), maxBatch)
	coalesce := time.NewTimer(time.Hour)
	coalesce.Stop()
	for {
		select {
		case w.slots <- struct{}{}:
		case <-ctx.Done():
			return
		}
		n := 1
	more:
		for n < maxBatch {
			select {
			case w.slots <- struct{}{}:
				n++
			default:
				break more
			}
		}
		if backlog && n < want {
			coalesce.Reset(coalesceWait)
		gather:
			for n < want {
				select {
				case w.slots <- struct{}{}:
					n++
				case <-coalesce.C:
					break gather
				}
			}
			coalesce.Stop()
		}
		if ctx.Err() != nil {
			w.release(n)
			return
		}
		got, err := w.b.Fetch(fctx, q, n, w.opts.Lease)
		w.release(n - len(got))
		backlog = err == nil && len(got) == n
		if err != nil {
			w.log.Warn("jobs: fetch failed; retrying", "queue", q, "error", err, "retry_in_ms", errWait.Milliseconds())
			if !sleepCtx(ctx, errWait) {
				return
			}
			errWait = min(errWait*2, 2*time.Second)
			continue
		}
		errWait = 50 * time.Millisecond
		if len(got) == 0 {
			if err := w.b.WaitReady(ctx, q, idleWait); err != nil && ctx.Err() == nil {
				w.log.Warn("jobs: waiting for jobs failed; retrying", "queue", q, "error", err)
				sleepCtx(ctx, errWait)
			}
			continue
		}
		w.inMu.Lock()
		set := w.inflight[q]
		for _, f := range got {
			// A run of this worker's that lost its lease may still be on
			// the job; the new run's token replaces its token here.
			set[f.ID] = f.Run
		}
		w.inMu.Unlock()
		w.running.Add(len(got))
		for _, f := range got {
			go w.runJob(q, f)
		}
	}
}

func (w *Worker) release(n int) {
	for range n {
		<-w.slots
	}
}

func (w *Worker) maintainLoop(ctx context.Context, q string) {
	defer w.loops.Done()
	const limit = 1000
	for {
		promoted, recovered, next, err := w.b.Maintain(ctx, q, limit)
		wait := w.opts.RecoveryInterval
		switch {
		case err != nil:
			if ctx.Err() != nil {
				return
			}
			w.log.Warn("jobs: maintenance failed; retrying", "queue", q, "error", err)
		case promoted == limit || recovered == limit:
			wait = 0
		case next >= 0 && next < wait:
			wait = next
		}
		if recovered > 0 {
			w.log.Warn("jobs: requeued jobs whose lease expired", "queue", q, "count", recovered)
		}
		if wait > 0 && !sleepCtx(ctx, wait) {
			return
		}
		if ctx.Err() != nil {
			return
		}
	}
}

func (w *Worker) renewLoop(ctx context.Context) {
	defer w.renewer.Done()
	t := time.NewTicker(w.opts.Lease / 3)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		for _, q := range w.opts.Queues {
			w.inMu.Lock()
			runs := make([]broker.RunRef, 0, len(w.inflight[q]))
			for id, run := range w.inflight[q] {
				runs = append(runs, broker.RunRef{ID: id, Run: run})
			}
			w.inMu.Unlock()
			for len(runs) > 0 {
				chunk := runs[:min(len(runs), 1000)]
				runs = runs[len(chunk):]
				if err := w.b.Extend(ctx, q, chunk, w.opts.Lease); err != nil && ctx.Err() == nil {
					w.log.Warn("jobs: lease renewal failed", "queue", q, "jobs", len(chunk), "error", err)
				}
			}
		}
	}
}

func (w *Worker) runJob(q string, f broker.Fetched) {
	// settled says who records this run's outcome when its handler has not
	// returned: runSettledHere for this goroutine (every path but one), or
	// runAbandoned for the abandon timer (the handler ignored its context
	// past the timeout), which then also takes the run out of w.running,
	// so that Stop does not wait for a handler that may never return.
	var settled atomic.Int32
	defer func() {
		if settled.Load() != runAbandoned {
			w.running.Done()
		}
	}()
	t, known := w.reg.lookup(f.Name)
	maxAttempts := f.MaxAttempts
	if maxAttempts <= 0 {
		maxAttempts = DefaultMaxAttempts
		if known {
			maxAttempts = t.maxAttempts
		}
	}
	o := broker.Outcome{ID: f.ID, Run: f.Run, MaxAttempts: maxAttempts}
	log := newJobLogger(w.log, slog.String("job_id", f.ID), slog.String("task", f.Name),
		slog.String("queue", q), slog.Int("attempt", f.Attempt))
	var err error
	handlerRunning := false
	defer func() {
		// The handler called runtime.Goexit: nothing after it ran.
		if handlerRunning && settled.CompareAndSwap(runOpen, runSettledHere) {
			w.fail(q, f.Name, o, f.Attempt, maxAttempts, log, errors.New("the handler exited its goroutine (runtime.Goexit) without returning"))
		}
	}()
	switch {
	case f.Attempt > maxAttempts:
		// Its previous run lost its lease on the last attempt.
		o.Op, o.Data = broker.OpDead, fmt.Sprintf("out of attempts (%d): the last run lost its lease (worker stopped or lost Redis)", maxAttempts)
		log.Error("job is out of attempts", "error", o.Data)
		if known {
			w.outcome(f.Name, OutcomeDead)
		}
		w.send(q, o)
		return
	case !known && f.Name != "":
		// A rolling deploy: newer code enqueued a task this worker lacks.
		// The job waits for a worker that has it, its attempts untouched.
		w.logUnknown(f.Name, q)
		o.Op, o.Delay = broker.OpRelease, w.opts.UnknownTaskDelay
		o.Data = fmt.Sprintf("no handler is registered for task %q on the worker that fetched it; waiting for one that has it", f.Name)
		w.send(q, o)
		return
	case !known:
		err = errors.New("the stored job is not in a format this worker reads")
	default:
		job := &Job{
			ID: f.ID, Name: f.Name, Queue: q, Payload: json.RawMessage(f.Payload),
			Attempt: f.Attempt, MaxAttempts: maxAttempts,
			UserID: f.UserID, WorkspaceID: f.WorkspaceID, EnqueuedAt: f.EnqueuedAt,
			TraceParent: f.TraceParent,
			Logger:      log,
			store:       w.opts.Store, cache: w.opts.Cache, client: w.opts.Client,
		}
		var res any
		timer := time.AfterFunc(t.timeout+abandonGrace, func() {
			if settled.CompareAndSwap(runOpen, runAbandoned) {
				w.fail(q, f.Name, o, f.Attempt, maxAttempts, log, fmt.Errorf("timed out after %s and the handler did not return within %s more; abandoned (its goroutine may still run)", t.timeout, abandonGrace))
				w.running.Done()
			}
		})
		handlerRunning = true
		res, err = w.call(t, job)
		handlerRunning = false
		if !timer.Stop() && !settled.CompareAndSwap(runOpen, runSettledHere) {
			log.Warn("abandoned job's handler returned at last; its outcome is dropped", "error", err)
			return
		}
		if err == nil {
			o.Op = broker.OpSucceeded
			w.outcome(f.Name, OutcomeSucceeded)
			if res != nil {
				b, merr := json.Marshal(res)
				if merr != nil {
					log.Error("job succeeded but its result is not JSON; result dropped", "error", merr)
				} else {
					o.Data = string(b)
				}
			}
		}
	}
	if err != nil {
		w.fail(q, f.Name, o, f.Attempt, maxAttempts, log, err)
		return
	}
	if w.hardCtx.Err() != nil {
		// The worker gave up on its jobs: leave this one to its lease.
		<-w.slots
		return
	}
	w.send(q, o)
}

// maxUnknownLogged bounds the task names a worker remembers having logged
// as unknown, so a producer inventing names cannot grow its memory.
const maxUnknownLogged = 1000

// logUnknown logs, once per task name, that this worker has no handler for
// a task whose jobs it fetches and gives back.
func (w *Worker) logUnknown(name, queue string) {
	w.unknownMu.Lock()
	first := !w.unknown[name] && len(w.unknown) < maxUnknownLogged
	if first {
		w.unknown[name] = true
	}
	w.unknownMu.Unlock()
	if first {
		w.log.Warn("jobs: no handler is registered for this task here; its jobs go back to their queue for a worker that has it, without spending an attempt (logged once per task)",
			"task", name, "queue", queue, "retry_in", w.opts.UnknownTaskDelay)
	}
}

// Who settles a run (runJob's settled).
const (
	runOpen int32 = iota
	runSettledHere
	runAbandoned
)

// abandonGrace is how long past its timeout a handler may take to return
// before its run is recorded as failed without it and its slot freed.
const abandonGrace = 2 * time.Second

// fail records a failed run: a retry with backoff, or the dead set for a
// permanent error or the last attempt.
func (w *Worker) fail(q, task string, o broker.Outcome, attempt, maxAttempts int, log *slog.Logger, err error) {
	if w.hardCtx.Err() != nil {
		// The worker gave up on its jobs: leave this one to its lease.
		<-w.slots
		return
	}
	o.Data = err.Error()
	switch {
	case IsPermanent(err):
		o.Op = broker.OpDead
		log.Error("job failed permanently; moved to the dead set", "error", err)
	case attempt >= maxAttempts:
		o.Op = broker.OpDead
		log.Error("job failed on its last attempt; moved to the dead set", "error", err, "max_attempts", maxAttempts)
	default:
		o.Op = broker.OpRetry
		o.Delay = w.opts.Backoff(attempt)
		log.Warn("job failed; will retry", "error", err, "retry_in_ms", o.Delay.Milliseconds())
	}
	if _, known := w.reg.lookup(task); known {
		if o.Op == broker.OpDead {
			w.outcome(task, OutcomeDead)
		} else {
			w.outcome(task, OutcomeFailed)
		}
	}
	w.send(q, o)
}

// call runs the handler with the task's timeout, turning a panic into an
// error.
func (w *Worker) call(t *task, job *Job) (res any, err error) {
	ctx, cancel := context.WithTimeout(w.hardCtx, t.timeout)
	defer cancel()
	if run := w.opts.Hooks.Run; run != nil {
		var done func(error)
		if ctx, done = run(ctx, job); done != nil {
			defer func() { done(err) }()
		}
	}
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("panic: %v", p)
			job.Logger.Error("job panicked", "panic", fmt.Sprint(p), "stack", string(debug.Stack()))
		}
	}()
	res, err = t.handler(ctx, job)
	if err != nil && errors.Is(ctx.Err(), context.DeadlineExceeded) {
		err = fmt.Errorf("timed out after %s: %w", t.timeout, err)
	}
	return res, err
}

// send hands an outcome to the completer and frees the job's slot.
func (w *Worker) send(q string, o broker.Outcome) {
	w.sendMu.RLock()
	if !w.closed {
		w.outcomes <- queuedOutcome{queue: q, o: o}
	}
	w.sendMu.RUnlock()
	<-w.slots
}

// completeLoop records outcomes in batches: whatever finished while the
// previous batch was being written goes in the next call.
func (w *Worker) completeLoop() {
	defer w.acker.Done()
	batch := map[string][]broker.Outcome{}
	for {
		first, ok := <-w.outcomes
		if !ok {
			return
		}
		batch[first.queue] = append(batch[first.queue], first.o)
		n, open := 1, true
	drain:
		for n < maxAckSize {
			select {
			case qo, ok := <-w.outcomes:
				if !ok {
					open = false
					break drain
				}
				batch[qo.queue] = append(batch[qo.queue], qo.o)
				n++
			default:
				break drain
			}
		}
		for q, outs := range batch {
			w.complete(q, outs)
			delete(batch, q)
		}
		if !open {
			return
		}
	}
}

func (w *Worker) complete(q string, outs []broker.Outcome) {
	wait := 50 * time.Millisecond
	for try := 0; ; try++ {
		n, err := w.b.Complete(w.ackCtx, q, outs, w.opts.ResultRetention)
		if err == nil {
			// (After a retry, outcomes the failed call did record count
			// as refused too, so only the first call's count is told.)
			if n < len(outs) && try == 0 {
				w.log.Warn("jobs: outcomes dropped: their runs had lost their lease and the jobs were requeued", "queue", q, "jobs", len(outs)-n)
			}
			break
		}
		if w.ackCtx.Err() != nil {
			return // stopping for good: the leases will expire
		}
		w.log.Warn("jobs: recording job outcomes failed; retrying", "queue", q, "jobs", len(outs), "error", err)
		if !sleepCtx(w.ackCtx, wait) {
			return
		}
		wait = min(wait*2, 2*time.Second)
	}
	w.inMu.Lock()
	set := w.inflight[q]
	for _, o := range outs {
		if set[o.ID] == o.Run {
			delete(set, o.ID)
		}
	}
	w.inMu.Unlock()
}
