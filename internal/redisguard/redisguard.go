// Package redisguard keeps a Redis that went away from costing every caller
// the Redis client's dial, retry and timeout time: a circuit breaker on a
// go-redis client, and the one test of "this error means Redis is not
// there" that the packages answering 503 for it share.
package redisguard

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
)

// ErrUnavailable is the error of every command sent through a guarded
// client while its breaker is open: Redis failed a moment ago and is being
// probed in the background.
var ErrUnavailable = errors.New("redis unavailable")

// Unavailable reports whether err says that Redis could not be reached or
// cannot serve now (refused, reset, timed out, closed, loading, a replica
// without its primary), as opposed to a reply about the command itself. A
// caller's own cancellation is not Redis being unavailable.
func Unavailable(err error) bool {
	if err == nil || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return false
	}
	if errors.Is(err, ErrUnavailable) || errors.Is(err, redis.ErrClosed) || errors.Is(err, redis.ErrPoolTimeout) {
		return true
	}
	return connFailure(err) || serverUnavailable(err)
}

// connFailure is a failure of the connection itself: what opens the breaker.
func connFailure(err error) bool {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return true
	}
	var ne net.Error
	return errors.As(err, &ne)
}

// serverUnavailable is a Redis error reply that says the server cannot
// serve now, whatever the command.
func serverUnavailable(err error) bool {
	var re redis.Error
	if !errors.As(err, &re) {
		return false
	}
	msg := re.Error()
	for _, p := range []string{"LOADING ", "MASTERDOWN ", "CLUSTERDOWN ", "TRYAGAIN ", "READONLY "} {
		if strings.HasPrefix(msg, p) {
			return true
		}
	}
	return false
}

// Options configures Install.
type Options struct {
	// Interval is how long the breaker stays open after a connection
	// failure before the next background probe (a PING). Defaults to 1s.
	Interval time.Duration

	// ProbeTimeout bounds one probe. Defaults to 2s.
	ProbeTimeout time.Duration

	// Logger gets one WARN when Redis becomes unreachable and one INFO
	// when it answers again, never a line per command. Defaults to
	// slog.Default().
	Logger *slog.Logger
}

// Breaker is the circuit breaker Install puts on a client. After a command
// fails for want of a connection (go-redis has already retried it), every
// command fails at once with ErrUnavailable, and a background goroutine
// pings Redis every Interval; the first answer closes the breaker and
// commands go to Redis again. No request ever waits for a dead Redis
// beyond the one failure that opened the breaker.
type Breaker struct {
	rdb  *redis.Client
	opts Options

	open      atomic.Bool
	downSince atomic.Int64 // unix ns the breaker opened at

	mu      sync.Mutex // orders a probe's start before Close's wait
	closed  bool
	stop    chan struct{}
	probing sync.WaitGroup
}

// PrepareOptions sets what the breaker needs of opt before the client is
// built from it: one dial attempt per connection (the default is five, 100
// ms apart), as the breaker is what waits for a Redis that went away.
func PrepareOptions(opt *redis.Options) {
	if opt.DialerRetries == 0 {
		opt.DialerRetries = 1
	}
}

// Install adds a Breaker to rdb as a go-redis hook and returns it. Build
// rdb from options passed through PrepareOptions. The
// caller must call Close before or when closing rdb, to end a running probe.
func Install(rdb *redis.Client, opts Options) *Breaker {
	if opts.Interval <= 0 {
		opts.Interval = time.Second
	}
	if opts.ProbeTimeout <= 0 {
		opts.ProbeTimeout = 2 * time.Second
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	b := &Breaker{rdb: rdb, opts: opts, stop: make(chan struct{})}
	rdb.AddHook(b)
	return b
}

// Open reports whether the breaker is open (Redis is considered down).
func (b *Breaker) Open() bool { return b.open.Load() }

// Close ends the background probe, if one runs, and waits for it. Commands
// still pass through the breaker afterwards. It always returns nil.
func (b *Breaker) Close() error {
	b.mu.Lock()
	if !b.closed {
		b.closed = true
		close(b.stop)
	}
	b.mu.Unlock()
	b.probing.Wait()
	return nil
}

// probeKey marks the probe's own PING, which passes an open breaker (with
// the commands go-redis sends to set up a new connection for it).
type probeKey struct{}

// DialHook implements redis.Hook. A dial that fails opens the breaker at
// once, and its error becomes ErrUnavailable, which go-redis does not retry:
// the command that met the dead Redis fails after one refused dial instead
// of after every retry and its backoff. Dials are never refused by the
// breaker itself: only the probe and go-redis's own pool probe dial while
// it is open (commands stop before they reach the pool).
func (b *Breaker) DialHook(next redis.DialHook) redis.DialHook {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := next(ctx, network, addr)
		if err != nil && connFailure(err) && ctx.Err() == nil {
			if ctx.Value(probeKey{}) == nil {
				b.trip(err)
			}
			return nil, fmt.Errorf("%w: %s", ErrUnavailable, err.Error())
		}
		return c, err
	}
}

// ProcessHook implements redis.Hook.
func (b *Breaker) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		if b.refuses(ctx) {
			cmd.SetErr(ErrUnavailable)
			return ErrUnavailable
		}
		return b.observe(ctx, next(ctx, cmd))
	}
}

// ProcessPipelineHook implements redis.Hook.
func (b *Breaker) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		if b.refuses(ctx) {
			for _, c := range cmds {
				c.SetErr(ErrUnavailable)
			}
			return ErrUnavailable
		}
		return b.observe(ctx, next(ctx, cmds))
	}
}

// refuses reports whether a command must fail at once: the breaker is open
// and the command is not the probe's.
func (b *Breaker) refuses(ctx context.Context) bool {
	return b.open.Load() && ctx.Value(probeKey{}) == nil
}

// observe opens the breaker when err is a connection failure of a command
// other than the probe's, and returns err.
func (b *Breaker) observe(ctx context.Context, err error) error {
	if err != nil && connFailure(err) && ctx.Value(probeKey{}) == nil {
		b.trip(err)
	}
	return err
}

// trip opens the breaker and starts the probe, once per outage.
func (b *Breaker) trip(err error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed || !b.open.CompareAndSwap(false, true) {
		return // closing (nothing to probe for), or open already
	}
	b.downSince.Store(time.Now().UnixNano())
	b.opts.Logger.LogAttrs(context.Background(), slog.LevelWarn,
		"redis: unreachable; commands fail at once until it answers a probe again",
		slog.String("error", err.Error()),
		slog.Int64("probe_interval_ms", b.opts.Interval.Milliseconds()))
	b.probing.Add(1)
	go b.probe()
}

// probe pings Redis every Interval until it answers (closing the breaker)
// or the breaker is closed.
func (b *Breaker) probe() {
	defer b.probing.Done()
	t := time.NewTicker(b.opts.Interval)
	defer t.Stop()
	for {
		select {
		case <-b.stop:
			return
		case <-t.C:
		}
		ctx, cancel := context.WithTimeout(context.WithValue(context.Background(), probeKey{}, true), b.opts.ProbeTimeout)
		err := b.ping(ctx)
		cancel()
		if errors.Is(err, redis.ErrClosed) {
			return
		}
		if err == nil {
			down := time.Duration(time.Now().UnixNano() - b.downSince.Load())
			b.open.Store(false)
			b.opts.Logger.LogAttrs(context.Background(), slog.LevelInfo, "redis: reachable again",
				slog.Int64("down_ms", down.Milliseconds()))
			return
		}
	}
}

// ping first checks that the server accepts a connection at all, outside
// the client's pool, so that a server still down costs neither a line of
// go-redis's pool log nor a dial error counted by the pool; then it pings
// through the client.
func (b *Breaker) ping(ctx context.Context) error {
	opt := b.rdb.Options()
	if opt.Dialer == nil {
		var d net.Dialer
		c, err := d.DialContext(ctx, opt.Network, opt.Addr)
		if err != nil {
			return err
		}
		_ = c.Close()
	}
	return b.rdb.Ping(ctx).Err()
}
