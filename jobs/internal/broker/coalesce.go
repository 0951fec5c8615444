package broker

import (
	"context"
	"sync"
)

// maxInFlight is how many enqueue round trips one Broker runs at once.
// Callers arriving while all of them are busy wait and leave together in
// the next one, as one pipeline: under concurrent producers a job costs a
// fraction of a round trip (one write and one read syscall per batch on
// both sides), while a lone producer still sends each job at once.
const maxInFlight = 2

// maxBatch bounds one coalesced pipeline, so a burst does not build one
// huge reply.
const maxBatch = 256

// enqueueCall is one Enqueue waiting in the coalescer.
type enqueueCall struct {
	m    *Message
	res  Enqueued
	err  error
	lead []*enqueueCall // set when this caller must send that batch
	done chan struct{}  // closed when res/err are set, or when lead is set
}

// coalescer groups concurrent Enqueue calls into pipelines.
type coalescer struct {
	mu       sync.Mutex
	inFlight int
	waiting  []*enqueueCall
}

// enqueue runs m alone when a round trip slot is free, or else waits to
// leave with the next batch. send runs one batch and fills in each call's
// res and err.
func (c *coalescer) enqueue(ctx context.Context, m *Message, send func(context.Context, []*enqueueCall)) (Enqueued, error) {
	call := &enqueueCall{m: m}
	c.mu.Lock()
	if c.inFlight < maxInFlight {
		c.inFlight++
		c.mu.Unlock()
		c.run(ctx, []*enqueueCall{call}, send)
		return call.res, call.err
	}
	call.done = make(chan struct{})
	c.waiting = append(c.waiting, call)
	c.mu.Unlock()

	select {
	case <-call.done:
	case <-ctx.Done():
		c.mu.Lock()
		for i, w := range c.waiting {
			if w == call { // not taken yet: leave without a trace
				c.waiting = append(c.waiting[:i], c.waiting[i+1:]...)
				c.mu.Unlock()
				return Enqueued{}, ctx.Err()
			}
		}
		c.mu.Unlock()
		// Already in a batch: its round trip is on its way (bounded by the
		// client's timeouts) and may have enqueued the job, so wait for
		// the answer rather than report a job lost that was not.
		<-call.done
	}
	if call.lead != nil {
		// This caller sends the batch it is part of. Its own context may
		// be done by now; the others' jobs must still go out.
		c.run(context.WithoutCancel(ctx), call.lead, send)
	}
	return call.res, call.err
}

// run sends batch, then hands the slot to the callers that queued
// meanwhile (their first caller sends them) or frees it.
func (c *coalescer) run(ctx context.Context, batch []*enqueueCall, send func(context.Context, []*enqueueCall)) {
	send(ctx, batch)
	c.mu.Lock()
	var next []*enqueueCall
	if len(c.waiting) > 0 {
		n := min(len(c.waiting), maxBatch)
		next = make([]*enqueueCall, n)
		copy(next, c.waiting)
		c.waiting = append(c.waiting[:0], c.waiting[n:]...)
	} else {
		c.inFlight--
	}
	c.mu.Unlock()
	for _, w := range batch[1:] {
		close(w.done)
	}
	if len(next) > 0 {
		next[0].lead = next
		close(next[0].done)
	}
}
