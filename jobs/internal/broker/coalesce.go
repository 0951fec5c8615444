package broker

import "appkernel/internal/coalesce"

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
type enqueueCall = coalesce.Call[*Message, Enqueued]

// newEnqueueCoalescer groups concurrent Enqueue calls into pipelines. A
// caller whose context ends before its batch leaves is never sent.
func newEnqueueCoalescer() *coalesce.Coalescer[*Message, Enqueued] {
	return coalesce.New[*Message, Enqueued](maxInFlight, maxBatch, true)
}
