package admin

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"appkernel/db"
)

// ErrNotStarted is Stop's error for a Recorder that Start did not start.
var ErrNotStarted = errors.New("admin: recorder not started")

// RecorderOptions configures NewRecorder. Exactly one of Redis and Store
// says where batches go.
type RecorderOptions struct {
	// Redis, when set, is where batches go: pipelined XADDs to the stream
	// Prefix+"events", which the admin worker reads. Give it a client with
	// the kernel's circuit breaker (internal/redisguard), so that a dead
	// Redis fails each flush at once.
	Redis redis.UniversalClient
	// Prefix starts the stream's key, e.g. "myservice:admin:". Defaults to
	// "admin:".
	Prefix string
	// MaxStreamLen bounds the stream (XADD MAXLEN ~): with no worker
	// reading it for long, its oldest events go first. Defaults to
	// DefaultMaxStreamLen.
	MaxStreamLen int64

	// Store, without Redis, is the admin database: batches are persisted
	// there directly (Persist), with no worker.
	Store *db.Store

	// BufferSize bounds the events waiting in process; an Emit into a full
	// buffer drops its event and counts it (Dropped). Defaults to 10,000.
	BufferSize int
	// BatchSize is the most events one send ships (one pipeline, or one
	// transaction). Defaults to 500.
	BatchSize int
	// FlushInterval is how long an event waits at most before it is
	// shipped. Defaults to 200ms. The buffer holds events in batches of
	// 128 (or BatchSize, or half of BufferSize, when smaller), and full
	// batches are shipped before the interval ends: once they hold 512
	// events (a quarter of BufferSize, when smaller, but at least one
	// batch), and with GOMAXPROCS 1 each one at once.
	FlushInterval time.Duration
	// MaxBackoff bounds the wait between retries of a batch that failed to
	// ship (Redis or the database down). Defaults to 5s.
	MaxBackoff time.Duration

	// Logger gets one WARN per FlushInterval in which events were dropped
	// and one per failing transport, not one per event. Defaults to
	// slog.Default().
	Logger *slog.Logger
}

// DefaultMaxStreamLen is the default bound of the events stream.
const DefaultMaxStreamLen = 100_000

func (o RecorderOptions) withDefaults() RecorderOptions {
	if o.Prefix == "" {
		o.Prefix = "admin:"
	}
	if o.MaxStreamLen <= 0 {
		o.MaxStreamLen = DefaultMaxStreamLen
	}
	if o.BufferSize <= 0 {
		o.BufferSize = 10_000
	}
	if o.BatchSize <= 0 {
		o.BatchSize = 500
	}
	if o.FlushInterval <= 0 {
		o.FlushInterval = 200 * time.Millisecond
	}
	if o.MaxBackoff <= 0 {
		o.MaxBackoff = 5 * time.Second
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	return o
}

func (o RecorderOptions) validate() error {
	switch {
	case o.Redis == nil && o.Store == nil:
		return errors.New("admin: RecorderOptions needs Redis (a stream for the admin worker) or Store (the admin database)")
	case o.Redis != nil && o.Store != nil:
		return errors.New("admin: RecorderOptions has both Redis and Store; set Redis to ship to the admin worker, or only Store to persist directly")
	case o.BufferSize < 0, o.BatchSize < 0:
		return errors.New("admin: RecorderOptions.BufferSize and BatchSize must not be negative")
	}
	return nil
}

// Recorder is the Sink of a process: it buffers the events its Emit
// receives and one goroutine ships them in batches, to the Redis stream of
// the admin worker or straight to the admin database. Build it with
// NewRecorder; the caller must call Start, and Stop to flush what is
// buffered.
type Recorder struct {
	opts RecorderOptions
	send func(context.Context, [][]Event) error // the events of one or more batches

	// The buffer, under bufMu: Emit appends to pending, a slice of one
	// batch; a full one goes to ready, and wakeAt ready events wake the
	// flusher, which takes what is ready and ships it. A request pays one
	// short lock, never a hand-off to another goroutine, and the batches
	// never grow: a garbage collector scans little of them.
	bufMu   sync.Mutex
	pending []Event
	ready   [][]Event
	readyN  int          // events in ready
	spares  [][]Event    // shipped batches, emptied for reuse
	held    atomic.Int64 // events the flusher took and has not shipped
	arena   []byte       // the flusher's: the encoded audit changes of the batches it ships
	kick    chan struct{}
	batch   int // events in a batch of the buffer
	wakeAt  int // ready events that wake the flusher (with more than one P)
	dropped atomic.Int64
	shipped atomic.Int64

	mu      sync.Mutex
	started bool
	stop    chan struct{}
	done    chan struct{}
	stopCtx context.Context // Stop's context, read by the flusher once stop is closed
	lost    int64           // events Stop gave up on
}

var _ Sink = (*Recorder)(nil)

// NewRecorder builds a Recorder shipping to opts.Redis or opts.Store.
func NewRecorder(opts RecorderOptions) (*Recorder, error) {
	if err := opts.validate(); err != nil {
		return nil, err
	}
	opts = opts.withDefaults()
	r := newRecorder(opts)
	if opts.Redis != nil {
		r.send = streamSender(opts.Redis, opts.Prefix+streamSuffix, opts.MaxStreamLen)
	} else {
		store := opts.Store
		r.send = func(ctx context.Context, batches [][]Event) error { return persistBatches(ctx, store, batches) }
	}
	return r, nil
}

// newRecorder builds a Recorder on opts (with defaults) without its transport.
func newRecorder(opts RecorderOptions) *Recorder {
	r := &Recorder{opts: opts, kick: make(chan struct{}, 1), batch: max(1, min(opts.BatchSize, opts.BufferSize/2, bufferBatch))}
	r.wakeAt = max(r.batch, min(wakeEvents, opts.BufferSize/4))
	r.pending = r.newBatch()
	return r
}

// bufferBatch is the most events in a batch of the buffer: small batches
// cost the garbage collector little, and with one P the flusher, run at
// every batch, reads it while it is still in the CPU's cache.
const bufferBatch = 128

// wakeEvents is how many ready events wake the flusher in a process with
// more than one P.
const wakeEvents = 512

// maxSpares is how many emptied batches a Recorder keeps for reuse: those
// of two wakes.
const maxSpares = 2 * wakeEvents / bufferBatch

// Emit queues e for shipping. It never blocks and never fails: with the
// buffer full (the transport down for long) the event is dropped and
// counted in Dropped. Events emitted after Stop are not shipped. An event
// without an ID is given one (a UUIDv7 of its Time) before it is shipped.
func (r *Recorder) Emit(e Event) {
	r.bufMu.Lock()
	n := r.waiting()
	if n >= r.opts.BufferSize {
		r.bufMu.Unlock()
		r.dropped.Add(1)
		return
	}
	r.pending = append(r.pending, e)
	ready := 0 // events ready when this Emit filled a batch
	if len(r.pending) == r.batch {
		r.ready = append(r.ready, r.pending)
		r.readyN += len(r.pending)
		r.pending = r.newBatch()
		ready = r.readyN
	}
	r.bufMu.Unlock()
	var kick, yield bool
	if ready > 0 {
		// With one P the flusher runs only in the emitter's place: wake it
		// and yield at every batch, while the batch is in the cache. With
		// more, waking it is a system call that costs the emitter more
		// than the flusher's whole work on a batch: wake it once wakeAt
		// events are ready, and yield only when it did not take those of
		// the last wake yet.
		one := runtime.GOMAXPROCS(0) == 1
		kick = one || ready >= r.wakeAt && ready < r.wakeAt+r.batch
		yield = one || ready >= 2*r.wakeAt
	}
	over := n+1 > r.opts.BufferSize/2
	if kick || yield || over {
		select {
		case r.kick <- struct{}{}:
		default: // kicked already
		}
		if yield || over {
			// Yield (without blocking) so that the flusher runs now (it is
			// the next to run here) even in a process busy on every CPU,
			// before the buffer overflows.
			runtime.Gosched()
		}
	}
}

// newBatch returns an empty batch for pending, a spare one if there is
// one. The caller holds bufMu.
func (r *Recorder) newBatch() []Event {
	if n := len(r.spares); n > 0 {
		b := r.spares[n-1]
		r.spares = r.spares[:n-1]
		return b
	}
	return make([]Event, 0, r.batch)
}

// take takes every event waiting, in batches: the full ones and what
// pending holds.
func (r *Recorder) take() [][]Event {
	r.bufMu.Lock()
	batches := r.ready
	n := r.readyN
	r.ready, r.readyN = nil, 0
	if len(r.pending) > 0 {
		batches = append(batches, r.pending)
		n += len(r.pending)
		r.pending = r.newBatch()
	}
	r.held.Add(int64(n)) // under bufMu: Emit and Buffered see them always, waiting or held
	r.bufMu.Unlock()
	return batches
}

// recycle keeps shipped batches for reuse, and frees the encoded changes
// of their events.
func (r *Recorder) recycle(group [][]Event) {
	r.arena = r.arena[:0]
	for _, b := range group {
		clear(b) // the events' maps and strings are garbage now
	}
	r.bufMu.Lock()
	for _, b := range group {
		if len(r.spares) < maxSpares && cap(b) == r.batch {
			r.spares = append(r.spares, b[:0])
		}
	}
	r.bufMu.Unlock()
}

// Dropped is the number of events lost so far: emitted into a full buffer,
// or still unshipped when Stop's context ended.
func (r *Recorder) Dropped() int64 { return r.dropped.Load() }

// Shipped is the number of events shipped so far.
func (r *Recorder) Shipped() int64 { return r.shipped.Load() }

// Buffered is the number of events waiting in the buffer (not yet
// shipped).
func (r *Recorder) Buffered() int {
	r.bufMu.Lock()
	defer r.bufMu.Unlock()
	return r.waiting()
}

// waiting is the number of events buffered: pending, ready or held by the
// flusher. The caller holds bufMu.
func (r *Recorder) waiting() int {
	return len(r.pending) + r.readyN + int(r.held.Load())
}

// Start starts the goroutine that ships batches. It returns an error when
// the Recorder was already started.
func (r *Recorder) Start(context.Context) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.started {
		return errors.New("admin: recorder already started")
	}
	r.started = true
	r.stop = make(chan struct{})
	r.done = make(chan struct{})
	go r.run()
	return nil
}

// Stop ships what is buffered and stops the Recorder. A batch that cannot
// be shipped is retried until ctx ends; the events then still unshipped
// are counted in Dropped and Stop returns an error saying how many. Later
// calls wait for the first one and return nil.
func (r *Recorder) Stop(ctx context.Context) error {
	r.mu.Lock()
	if !r.started {
		r.mu.Unlock()
		return ErrNotStarted
	}
	first := r.stopCtx == nil
	if first {
		r.stopCtx = ctx
		close(r.stop)
	}
	r.mu.Unlock()
	<-r.done
	if first && r.lost > 0 {
		return fmt.Errorf("admin: recorder stopped with %d events unshipped: %w", r.lost, context.Cause(ctx))
	}
	return nil
}

// run is the flusher. It sleeps until the flush interval ticks or Emit
// kicks it (wakeAt events are ready; each batch with one P), so that
// most Emits wake no goroutine; then it takes what waits and ships it,
// up to BatchSize events per send, retrying a failed send with backoff
// while new events wait (bounded) in the buffer.
func (r *Recorder) run() {
	defer close(r.done)
	o := r.opts
	tick := time.NewTicker(o.FlushInterval)
	defer tick.Stop()
	var reportedDrops int64
	var failing bool
	for {
		select {
		case <-tick.C:
			r.reportDrops(&reportedDrops)
		case <-r.kick:
		case <-r.stop:
			r.drain(nil)
			return
		}
		batches := r.take()
		for len(batches) > 0 {
			k := groupOf(batches, o.BatchSize)
			backoff := time.Duration(0)
			for {
				select {
				case <-r.stop: // the rest goes under Stop's context (drain)
					r.drain(batches)
					return
				default:
				}
				err := r.ship(context.Background(), batches[:k])
				if err == nil {
					if failing {
						o.Logger.Info("admin: shipping events again")
						failing = false
					}
					break
				}
				if !failing {
					o.Logger.Warn("admin: cannot ship events; keeping them buffered and retrying", "err", err, "events", r.Buffered())
					failing = true
				}
				backoff = min(max(2*backoff, 50*time.Millisecond), o.MaxBackoff)
				if !r.wait(backoff, tick, &reportedDrops) {
					r.drain(batches)
					return
				}
			}
			r.recycle(batches[:k])
			batches = batches[k:]
		}
	}
}

// groupOf returns how many of batches, from the first, one send ships:
// as many as hold at most max events, and at least one.
func groupOf(batches [][]Event, max int) int {
	k, n := 1, len(batches[0])
	for k < len(batches) && n+len(batches[k]) <= max {
		n += len(batches[k])
		k++
	}
	return k
}

// wait sleeps for d, reporting drops at each tick; it reports false when
// Stop began meanwhile.
func (r *Recorder) wait(d time.Duration, tick *time.Ticker, reportedDrops *int64) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	for {
		select {
		case <-t.C:
			return true
		case <-tick.C:
			r.reportDrops(reportedDrops)
		case <-r.stop:
			return false
		}
	}
}

// reportDrops logs the events dropped since the last report, if any: at
// most one line per flush interval.
func (r *Recorder) reportDrops(reported *int64) {
	if d := r.dropped.Load(); d > *reported {
		r.opts.Logger.Warn("admin: events dropped: the buffer is full (transport down or too slow)",
			"dropped", d-*reported, "dropped_total", d, "buffer", r.opts.BufferSize)
		*reported = d
	}
}

// ship finishes the events of one batch (their ids and audit changes,
// once: a retried batch keeps them), sends it and counts it.
func (r *Recorder) ship(ctx context.Context, group [][]Event) error {
	n := 0
	for _, b := range group {
		for i := range b {
			r.arena = b[i].finish(r.arena)
		}
		n += len(b)
	}
	if err := r.send(ctx, group); err != nil {
		return err
	}
	r.held.Add(-int64(n))
	r.shipped.Add(int64(n))
	return nil
}

// drain ships rest (the batches the flusher held) and what was waiting
// when Stop began (not what Emits racing Stop add after), retrying until
// Stop's context ends; what is left then is counted as dropped.
func (r *Recorder) drain(rest [][]Event) {
	r.mu.Lock()
	ctx := r.stopCtx
	r.mu.Unlock()
	o := r.opts
	rest = append(rest, r.take()...)
	backoff := time.Duration(0)
	for len(rest) > 0 {
		k := groupOf(rest, o.BatchSize)
		if err := r.ship(ctx, rest[:k]); err == nil {
			r.recycle(rest[:k])
			rest = rest[k:]
			backoff = 0
			continue
		}
		backoff = min(max(2*backoff, 50*time.Millisecond), o.MaxBackoff)
		select {
		case <-time.After(backoff):
		case <-ctx.Done():
			var lost int64
			for _, b := range rest {
				lost += int64(len(b))
			}
			r.held.Add(-lost)
			r.lost = lost
			r.dropped.Add(lost)
			o.Logger.Error("admin: events lost at stop: the transport did not take them in time", "events", lost)
			return
		}
	}
}
