// Package coalesce groups concurrent calls into batches: while every round
// trip slot is busy, callers wait and leave together in the next batch, so
// under concurrency a call costs a fraction of a round trip, while a lone
// caller still goes at once. The jobs broker's enqueues and the rate
// limiter's decisions both go through it.
package coalesce

import (
	"context"
	"sync"
)

// Call is one caller's part of a batch: In is what it brings; the send
// function fills in Out and Err.
type Call[In, Out any] struct {
	In  In
	Out Out
	Err error

	lead []*Call[In, Out] // set when this caller must send that batch
	done chan struct{}    // closed when Out/Err are set, or when lead is set
}

// Coalescer batches concurrent calls. Build it with New; it is safe for
// concurrent use.
type Coalescer[In, Out any] struct {
	maxInFlight   int
	maxBatch      int
	leaveOnCancel bool

	mu       sync.Mutex
	inFlight int
	waiting  []*Call[In, Out]
}

// New returns a Coalescer with at most maxInFlight batches out at once and
// at most maxBatch calls in one batch. With leaveOnCancel a waiting caller
// whose context ends before its batch is taken leaves without a trace (its
// call is never sent); without it every call waits for its answer.
func New[In, Out any](maxInFlight, maxBatch int, leaveOnCancel bool) *Coalescer[In, Out] {
	return &Coalescer[In, Out]{maxInFlight: max(1, maxInFlight), maxBatch: max(1, maxBatch), leaveOnCancel: leaveOnCancel}
}

// Do runs in alone when a round trip slot is free, or else waits to leave
// with the next batch. send runs one batch and fills in each call's Out and
// Err.
func (c *Coalescer[In, Out]) Do(ctx context.Context, in In, send func(context.Context, []*Call[In, Out])) (Out, error) {
	call := &Call[In, Out]{In: in}
	c.mu.Lock()
	if c.inFlight < c.maxInFlight {
		c.inFlight++
		c.mu.Unlock()
		c.run(ctx, []*Call[In, Out]{call}, send)
		return call.Out, call.Err
	}
	call.done = make(chan struct{})
	c.waiting = append(c.waiting, call)
	c.mu.Unlock()

	if c.leaveOnCancel {
		select {
		case <-call.done:
		case <-ctx.Done():
			if c.leave(call) {
				var zero Out
				return zero, ctx.Err()
			}
			// Already in a batch: its round trip is on its way (bounded by
			// the client's timeouts) and may have done the work, so wait
			// for the answer rather than report lost what was not.
			<-call.done
		}
	} else {
		// No leaving early: the batch's round trip is short (bounded by the
		// client's timeouts), and a call already counted must not be lost.
		<-call.done
	}
	if call.lead != nil {
		// This caller sends the batch it is part of. Its own context may be
		// done by now; the others' calls must still go out.
		c.run(context.WithoutCancel(ctx), call.lead, send)
	}
	return call.Out, call.Err
}

// leave takes call out of the queue, if no batch has taken it yet.
func (c *Coalescer[In, Out]) leave(call *Call[In, Out]) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	for i, w := range c.waiting {
		if w == call {
			c.waiting = append(c.waiting[:i], c.waiting[i+1:]...)
			return true
		}
	}
	return false
}

// run sends batch, then hands the slot to the callers that queued meanwhile
// (their first caller sends them) or frees it.
func (c *Coalescer[In, Out]) run(ctx context.Context, batch []*Call[In, Out], send func(context.Context, []*Call[In, Out])) {
	send(ctx, batch)
	c.mu.Lock()
	var next []*Call[In, Out]
	if n := min(len(c.waiting), c.maxBatch); n > 0 {
		next = make([]*Call[In, Out], n)
		copy(next, c.waiting)
		c.waiting = append(c.waiting[:0], c.waiting[n:]...)
	} else {
		c.inFlight--
	}
	c.mu.Unlock()
	for _, w := range batch[1:] { // the first one's was closed to lead, or never made
		close(w.done)
	}
	if len(next) > 0 {
		next[0].lead = next
		close(next[0].done)
	}
}

// Load reports the batches out and the calls waiting now, for tests.
func (c *Coalescer[In, Out]) Load() (inFlight, waiting int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.inFlight, len(c.waiting)
}
