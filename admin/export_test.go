package admin

import (
	"context"
	"testing"
	"time"
)

// NewDiscardRecorder returns a started Recorder whose transport accepts
// every batch and keeps nothing: the Recorder's own work (buffering,
// giving ids, diffing audit changes) without the cost of a transport, for
// the capture benchmark. It is stopped when tb ends.
func NewDiscardRecorder(tb testing.TB) *Recorder {
	return NewRecorderTo(tb, RecorderOptions{}, func([]Event) {})
}

// NewRecorderTo returns a started Recorder on opts whose transport hands
// every batch to send (which must not keep the slice). It is stopped when
// tb ends.
func NewRecorderTo(tb testing.TB, opts RecorderOptions, send func([]Event)) *Recorder {
	r := newRecorder(opts.withDefaults())
	r.send = func(_ context.Context, batch []Event) error { send(batch); return nil }
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
