package admin

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"appkernel/db"
)

// WorkerOptions configures NewWorker.
type WorkerOptions struct {
	// Redis holds the events stream. Required.
	Redis redis.UniversalClient
	// Prefix starts the stream's key, as in RecorderOptions. Defaults to
	// "admin:".
	Prefix string
	// Store is the admin database. Required; Migrate must have run on it.
	Store *db.Store

	// Group is the consumer group every worker of the service shares.
	// Defaults to "admin".
	Group string
	// Consumer names this worker in the group; it must differ between
	// live workers. Defaults to host name, process id and a random suffix.
	Consumer string
	// BatchSize is the most events persisted in one transaction.
	// Defaults to 500.
	BatchSize int
	// Block is how long one read waits for new events, and so about how
	// long Stop waits for the loop. Defaults to 500ms.
	Block time.Duration
	// ClaimIdle is how long an event read but not acknowledged (its
	// worker died, or lost the database) stays with that worker before
	// another takes it over (XAUTOCLAIM). Defaults to 30s.
	ClaimIdle time.Duration
	// MaxBackoff bounds the wait between retries while Redis or the admin
	// database fails. Defaults to 5s.
	MaxBackoff time.Duration
	// Logger gets one WARN per failing dependency, not one per retry.
	// Defaults to slog.Default().
	Logger *slog.Logger
}

func (o WorkerOptions) withDefaults() WorkerOptions {
	if o.Prefix == "" {
		o.Prefix = "admin:"
	}
	if o.Group == "" {
		o.Group = "admin"
	}
	if o.Consumer == "" {
		o.Consumer = uniqueConsumer()
	}
	if o.BatchSize <= 0 {
		o.BatchSize = 500
	}
	if o.Block <= 0 {
		o.Block = 500 * time.Millisecond
	}
	if o.ClaimIdle <= 0 {
		o.ClaimIdle = 30 * time.Second
	}
	if o.MaxBackoff <= 0 {
		o.MaxBackoff = 5 * time.Second
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	return o
}

// uniqueConsumer is host-pid-random: unique per process, and readable in
// XINFO CONSUMERS.
func uniqueConsumer() string {
	host, _ := os.Hostname()
	if host == "" {
		host = "host"
	}
	var b [4]byte
	_, _ = rand.Read(b[:])
	return host + "-" + strconv.Itoa(os.Getpid()) + "-" + hex.EncodeToString(b[:])
}

// Worker is the admin worker: a consumer of the events stream's group
// that persists batches into the admin database (Persist) and
// acknowledges them only after the commit. Persisting is idempotent by
// event id, so an event delivered again (its worker died between commit
// and acknowledgement, and another claimed it) is stored and counted
// once. Build it with NewWorker; the caller must call Start and Stop.
type Worker struct {
	opts   WorkerOptions
	stream string

	handled atomic.Int64
	// beforeAck, set by tests, runs before each acknowledgement; its error
	// stands for a worker that died after the commit.
	beforeAck func(ids []string) error

	mu      sync.Mutex
	started bool
	stopped bool
	stop    chan struct{}
	done    chan struct{}
	cancel  context.CancelFunc
}

// NewWorker builds a Worker on opts.
func NewWorker(opts WorkerOptions) (*Worker, error) {
	if opts.Redis == nil || opts.Store == nil {
		return nil, errors.New("admin: WorkerOptions needs Redis (the events stream) and Store (the admin database)")
	}
	opts = opts.withDefaults()
	return &Worker{opts: opts, stream: opts.Prefix + streamSuffix}, nil
}

// Consumer is the worker's name in the consumer group.
func (w *Worker) Consumer() string { return w.opts.Consumer }

// Handled is the number of stream entries this worker persisted and
// acknowledged so far.
func (w *Worker) Handled() int64 { return w.handled.Load() }

// Start creates the consumer group (and the stream) when missing and
// starts reading in the background. It fails when Redis does not answer
// or the Worker was started before.
func (w *Worker) Start(ctx context.Context) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.started {
		return errors.New("admin: worker already started")
	}
	if err := w.createGroup(ctx); err != nil {
		return err
	}
	w.started = true
	w.stop = make(chan struct{})
	w.done = make(chan struct{})
	runCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	w.cancel = cancel
	go w.run(runCtx)
	return nil
}

// Stop ends the loop: the batch in hand is persisted and acknowledged,
// unless ctx ends first, in which case its events stay pending in the
// group for another worker (or this one's next start) to claim. Later calls
// wait for the first one's end.
func (w *Worker) Stop(ctx context.Context) error {
	w.mu.Lock()
	if !w.started {
		w.mu.Unlock()
		return errors.New("admin: worker not started")
	}
	if !w.stopped {
		w.stopped = true
		close(w.stop)
	}
	w.mu.Unlock()
	select {
	case <-w.done:
		return nil
	case <-ctx.Done():
		w.cancel()
		<-w.done
		return fmt.Errorf("admin: worker stop: %w", context.Cause(ctx))
	}
}

// createGroup creates the group at the stream's start, so that events
// shipped before any worker ran are read too. An existing group is kept.
func (w *Worker) createGroup(ctx context.Context) error {
	err := w.opts.Redis.XGroupCreateMkStream(ctx, w.stream, w.opts.Group, "0").Err()
	if err != nil && !strings.HasPrefix(err.Error(), "BUSYGROUP") {
		return fmt.Errorf("admin: create consumer group %s on %s: %w", w.opts.Group, w.stream, err)
	}
	return nil
}

func (w *Worker) stopping() bool {
	select {
	case <-w.stop:
		return true
	default:
		return false
	}
}

// run reads new entries, and every ClaimIdle/2 claims the entries other
// consumers left pending, until Stop.
func (w *Worker) run(ctx context.Context) {
	defer close(w.done)
	defer w.cancel()
	o := w.opts
	claimEvery := max(o.ClaimIdle/2, 10*time.Millisecond)
	var lastClaim time.Time
	backoff := time.Duration(0)
	failing := false
	fail := func(what string, err error) {
		if !failing {
			o.Logger.Warn("admin worker: "+what+"; retrying", "err", err, "consumer", o.Consumer)
			failing = true
		}
		backoff = min(max(2*backoff, 50*time.Millisecond), o.MaxBackoff)
		select {
		case <-time.After(backoff):
		case <-w.stop:
		}
	}
	for !w.stopping() {
		if time.Since(lastClaim) >= claimEvery {
			if err := w.claim(ctx); err != nil {
				fail("cannot claim pending events", err)
				continue
			}
			lastClaim = time.Now()
		}
		streams, err := o.Redis.XReadGroup(ctx, &redis.XReadGroupArgs{
			Group: o.Group, Consumer: o.Consumer, Streams: []string{w.stream, ">"},
			Count: int64(o.BatchSize), Block: o.Block,
		}).Result()
		switch {
		case errors.Is(err, redis.Nil):
			continue
		case err != nil && strings.HasPrefix(err.Error(), "NOGROUP"):
			// The stream was deleted (FLUSHDB): make it and the group again.
			if err = w.createGroup(ctx); err != nil {
				fail("cannot create the consumer group", err)
			}
			continue
		case err != nil:
			if ctx.Err() == nil {
				fail("cannot read the events stream", err)
			}
			continue
		}
		ok := true
		for _, s := range streams {
			if err := w.handle(ctx, s.Messages); err != nil {
				fail("cannot persist events", err)
				ok = false
			}
		}
		if ok && failing {
			o.Logger.Info("admin worker: persisting events again", "consumer", o.Consumer)
			failing, backoff = false, 0
		}
	}
}

// claim takes over the entries pending longer than ClaimIdle with any
// consumer of the group, and persists them.
func (w *Worker) claim(ctx context.Context) error {
	o := w.opts
	start := "0-0"
	for !w.stopping() {
		msgs, next, err := o.Redis.XAutoClaim(ctx, &redis.XAutoClaimArgs{
			Stream: w.stream, Group: o.Group, Consumer: o.Consumer,
			MinIdle: o.ClaimIdle, Start: start, Count: int64(o.BatchSize),
		}).Result()
		if err != nil {
			if strings.HasPrefix(err.Error(), "NOGROUP") {
				return w.createGroup(ctx)
			}
			return err
		}
		if len(msgs) > 0 {
			if err := w.handle(ctx, msgs); err != nil {
				return err
			}
		}
		if next == "0-0" || next == "" {
			return nil
		}
		start = next
	}
	return nil
}

// handle persists the events of msgs, then acknowledges and deletes the
// entries. An entry that does not decode is logged and acknowledged, so
// that it does not come back forever. A failed persist retries with
// backoff until Stop; the entries then stay pending.
func (w *Worker) handle(ctx context.Context, msgs []redis.XMessage) error {
	o := w.opts
	events := make([]Event, 0, len(msgs))
	ids := make([]string, len(msgs))
	for i, m := range msgs {
		ids[i] = m.ID
		e, err := decodeEntry(m)
		if err != nil {
			o.Logger.Error("admin worker: dropping an entry that is not an event", "err", err)
			continue
		}
		events = append(events, e)
	}
	backoff := time.Duration(0)
	for {
		err := Persist(ctx, o.Store, events)
		if err == nil {
			break
		}
		if w.stopping() || ctx.Err() != nil {
			return err
		}
		if backoff == 0 {
			o.Logger.Warn("admin worker: cannot persist events; retrying", "err", err, "events", len(events))
		}
		backoff = min(max(2*backoff, 50*time.Millisecond), o.MaxBackoff)
		select {
		case <-time.After(backoff):
		case <-w.stop:
		}
	}
	if err := w.ack(ctx, ids); err != nil {
		// Persisted: the entries come back through a claim and are
		// recognised by their ids.
		return fmt.Errorf("admin: acknowledge %d events: %w", len(ids), err)
	}
	w.handled.Add(int64(len(ids)))
	return nil
}

// ack acknowledges and deletes entries.
func (w *Worker) ack(ctx context.Context, ids []string) error {
	if w.beforeAck != nil {
		if err := w.beforeAck(ids); err != nil {
			return err
		}
	}
	_, err := w.opts.Redis.Pipelined(ctx, func(p redis.Pipeliner) error {
		p.XAck(ctx, w.stream, w.opts.Group, ids...)
		p.XDel(ctx, w.stream, ids...)
		return nil
	})
	return err
}
