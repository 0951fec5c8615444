package admin

import (
	"context"
	"testing"
)

// NewDiscardRecorder returns a started Recorder whose transport accepts
// every batch and keeps nothing: the Recorder's own work (buffering,
// giving ids, diffing audit changes) without the cost of a transport, for
// the capture benchmark. It is stopped when tb ends.
func NewDiscardRecorder(tb testing.TB) *Recorder {
	r := newRecorder(RecorderOptions{}.withDefaults())
	r.send = func(context.Context, []Event) error { return nil }
	if err := r.Start(context.Background()); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { r.Stop(context.Background()) })
	return r
}
