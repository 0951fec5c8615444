package admin

import (
	"context"
	"encoding/json"
	"runtime"
	"testing"
	"time"
)

// NewDiscardRecorder returns a started Recorder whose transport accepts
// every batch and keeps nothing: the Recorder's own work (buffering,
// giving ids, encoding audit changes) without the cost of a transport,
// for the capture benchmark. It is stopped when tb ends.
func NewDiscardRecorder(tb testing.TB) *Recorder {
	return startForTest(tb, RecorderOptions{}, func(context.Context, [][]Event) error { return nil })
}

// NewRecorderTo returns a started Recorder on opts whose transport hands
// the events of each send to send, in one slice (which send must not
// keep). An audit event's
// changes, which the Recorder ships encoded, reach send decoded into
// Changes, as the admin worker reads them from the stream. It is stopped
// when tb ends.
func NewRecorderTo(tb testing.TB, opts RecorderOptions, send func([]Event)) *Recorder {
	return startForTest(tb, opts, func(_ context.Context, batches [][]Event) error {
		var batch []Event // one send, as a transport gets it
		for _, b := range batches {
			batch = append(batch, b...)
		}
		for i := range batch {
			if e := &batch[i]; e.changesJSON != nil {
				if err := json.Unmarshal(e.changesJSON, &e.Changes); err != nil {
					tb.Errorf("event %s: changes %s: %v", e.ID, e.changesJSON, err)
				}
				e.changesJSON = nil
			}
		}
		send(batch)
		return nil
	})
}

// startForTest starts a Recorder on opts with the transport send, stopped
// when tb ends.
func startForTest(tb testing.TB, opts RecorderOptions, send func(context.Context, [][]Event) error) *Recorder {
	r := newRecorder(opts.withDefaults())
	r.send = send
	if err := r.Start(context.Background()); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		r.Stop(ctx)
	})
	return r
}

// Drain wakes r's flusher and waits (yielding, so that it runs on a
// single CPU too) until every event emitted so far is shipped.
func Drain(r *Recorder) {
	select {
	case r.kick <- struct{}{}:
	default:
	}
	for r.Buffered() > 0 {
		runtime.Gosched()
	}
}
