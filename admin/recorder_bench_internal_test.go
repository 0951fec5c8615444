package admin

import (
	"runtime"
	"testing"
	"time"

	"appkernel/db"
)

// BenchmarkRecorderEmit is the cost a request pays per event: one short
// lock and an append to the buffer, with the flusher taking events out
// (its transport here does nothing, so the transport's own cost is left
// out; BenchmarkPersist* measure that).
func BenchmarkRecorderEmit(b *testing.B) {
	rec := NewDiscardRecorder(b)
	e := Event{ID: "0190f0e0-0000-7000-8000-000000000000", Kind: KindRequest, App: "svc", Time: time.Now(),
		UserID: "u1", WorkspaceID: "w1", Method: "GET", Route: "/widgets/{id}", Status: 200}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if i%256 == 0 && rec.Buffered() > rec.opts.BufferSize/2 {
			// Let the flusher catch up, off the clock: a request rate the
			// transport keeps up with never fills the buffer.
			b.StopTimer()
			for rec.Buffered() >= rec.opts.BatchSize {
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

// BenchmarkRecorderFinish is the work a Recorder's flusher does per event
// that capture left to it, off the request's path: the id of a request
// event, and the id and the JSON of the changed fields (found by capture)
// of an audit event of an update.
func BenchmarkRecorderFinish(b *testing.B) {
	now := time.Now().UTC()
	var arena []byte
	b.Run("request", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			e := Event{Kind: KindRequest, App: "svc", Time: now, Method: "GET", Route: "/widgets/{id}", Status: 200}
			arena = e.finish(arena[:0])
		}
	})
	b.Run("audit", func(b *testing.B) {
		old := db.Entity{"id": "42", "name": "sprocket", "size": int64(3), "updated_at": "2026-12-06T10:00:00.000000Z"}
		new := db.Entity{"id": "42", "name": "gear", "size": int64(3), "updated_at": "2026-12-06T10:00:01.000000Z"}
		changes := changedFields(nil, old, new)
		b.ReportAllocs()
		for b.Loop() {
			e := Event{Kind: KindAudit, App: "svc", Time: now, Action: "update", Entity: "widgets", EntityID: "42",
				auditChanges: changes}
			arena = e.finish(arena[:0])
		}
	})
}
