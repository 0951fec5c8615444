package admin

import (
	"context"
	"runtime"
	"testing"
	"time"
)

// BenchmarkRecorderEmit is the cost a request pays per event: one
// non-blocking send into the buffer, with the flusher taking events out
// (its transport here does nothing, so the transport's own cost is left
// out; BenchmarkPersist* measure that).
func BenchmarkRecorderEmit(b *testing.B) {
	rec := &Recorder{opts: RecorderOptions{Store: nil}.withDefaults(), send: func(context.Context, []Event) error { return nil }}
	rec.buf = make(chan Event, rec.opts.BufferSize)
	if err := rec.Start(context.Background()); err != nil {
		b.Fatal(err)
	}
	defer rec.Stop(context.Background())
	e := Event{ID: "0190f0e0-0000-7000-8000-000000000000", Kind: KindRequest, App: "svc", Time: time.Now(),
		UserID: "u1", WorkspaceID: "w1", Method: "GET", Route: "/widgets/{id}", Status: 200}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if len(rec.buf) > cap(rec.buf)/2 {
			// Let the flusher catch up, off the clock: a request rate the
			// transport keeps up with never fills the buffer.
			b.StopTimer()
			for len(rec.buf) >= rec.opts.BatchSize {
				runtime.Gosched()
			}
			b.StartTimer()
		}
		rec.Emit(e)
	}
	b.StopTimer()
	if rec.Dropped() != 0 {
		b.Fatalf("%d events dropped", rec.Dropped())
	}
}
