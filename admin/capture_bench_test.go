package admin_test

import (
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/go-chi/chi/v5"

	"appkernel/admin"
	"appkernel/auth"
	"appkernel/db"
	"appkernel/internal/testenv"
	"appkernel/middleware"
)

type benchResponse struct{ h http.Header }

func (w *benchResponse) Header() http.Header         { return w.h }
func (w *benchResponse) WriteHeader(int)             {}
func (w *benchResponse) Write(b []byte) (int, error) { return len(b), nil }

// BenchmarkCaptureStack is what audit and usage capture add to a request
// through the kernel's middleware stack (served behind Root, JSON access
// log to io.Discard, an authenticated user): "stack" without them,
// "metering" with the metering middleware after authentication, and
// "metering+audit" also running the audit observer once per request as a
// save would (the observer alone: the save's database work is the app's).
// The sink is the admin Recorder the kernel uses, its transport a no-op
// (NewDiscardRecorder): its flusher gives the ids and encodes the audit
// changes off the request's path, as in the kernel (BenchmarkRecorderFinish
// is that work per event). overhead-ns/op is against "stack" of the same
// run, cpu-ns/op the process's CPU time (the flusher's and the garbage
// collector's on other CPUs included); "paired" measures all three in
// interleaved blocks, the figure to quote on a machine whose speed drifts
// from one run to the next. The target is at most 2000 ns.
func BenchmarkCaptureStack(b *testing.B) {
	user := auth.User{ID: "01a24da0-bbae-70f9-8432-9d5504ac03d7", WorkspaceID: "01a24da0-bbbd-75f6-9891-0e9a59bbb331"}
	authenticate := func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			next.ServeHTTP(w, r.WithContext(auth.WithUser(r.Context(), user)))
		})
	}
	change := db.Change{Op: "update", Table: "widgets", ID: "42",
		Old: db.Entity{"id": "42", "name": "sprocket", "size": int64(3), "updated_at": "2026-12-06T10:00:00.000000Z"},
		New: db.Entity{"id": "42", "name": "gear", "size": int64(3), "updated_at": "2026-12-06T10:00:01.000000Z"}}
	build := func(b *testing.B, metering func(http.Handler) http.Handler, observe func(r *http.Request)) http.Handler {
		stack, err := middleware.Stack(middleware.StackOptions{
			Logger: slog.New(middleware.NewJSONHandler(io.Discard, nil)),
			After:  []func(http.Handler) http.Handler{authenticate, metering},
		})
		if err != nil {
			b.Fatal(err)
		}
		r := chi.NewRouter()
		r.Use(stack...)
		r.Get("/widgets/{id}", func(w http.ResponseWriter, r *http.Request) {
			if observe != nil {
				observe(r)
			}
			middleware.WriteJSON(w, http.StatusOK, map[string]string{"id": chi.URLParam(r, "id"), "name": "gear"})
		})
		return middleware.Root(r)
	}
	run := func(b *testing.B, h http.Handler) float64 {
		req := httptest.NewRequest(http.MethodGet, "/widgets/42", nil)
		w := &benchResponse{h: make(http.Header, 16)}
		b.ReportAllocs()
		c0 := testenv.ProcessCPU()
		for b.Loop() {
			clear(w.h)
			h.ServeHTTP(w, req)
		}
		b.ReportMetric(float64(testenv.ProcessCPU()-c0)/float64(b.N), "cpu-ns/op")
		return float64(b.Elapsed().Nanoseconds()) / float64(b.N)
	}
	var base float64
	b.Run("stack", func(b *testing.B) { base = run(b, build(b, nil, nil)) })
	b.Run("metering", func(b *testing.B) {
		ns := run(b, build(b, admin.Metering("app", admin.NewDiscardRecorder(b)), nil))
		b.ReportMetric(ns-base, "overhead-ns/op")
	})
	b.Run("metering+audit", func(b *testing.B) {
		sink := admin.NewDiscardRecorder(b)
		observer := admin.AuditObserver("app", sink)
		ns := run(b, build(b, admin.Metering("app", sink), func(r *http.Request) { observer(r.Context(), change) }))
		b.ReportMetric(ns-base, "overhead-ns/op")
	})

	// paired: blocks of requests through the three, so that all three
	// see the same conditions (a machine whose speed drifts by tens of
	// percent within a run); wall time per request. Each has its own
	// Recorder, which ships all of a block's events before the block's
	// time ends, so the flusher's work is charged to the requests that
	// caused it. The blocks of a round run in a random order: the garbage
	// collector's work falls on whichever block runs when it does, and a
	// fixed order would charge it to the same one every time. With -cpu 1
	// the wall time is all the work a request causes, the collector's
	// included; with more CPUs, what the request itself waits for.
	b.Run("paired", func(b *testing.B) {
		meterSink, bothSink := admin.NewDiscardRecorder(b), admin.NewDiscardRecorder(b)
		observer := admin.AuditObserver("app", bothSink)
		hs := []http.Handler{
			build(b, nil, nil),
			build(b, admin.Metering("app", meterSink), nil),
			build(b, admin.Metering("app", bothSink), func(r *http.Request) { observer(r.Context(), change) }),
		}
		sinks := []*admin.Recorder{nil, meterSink, bothSink}
		req := httptest.NewRequest(http.MethodGet, "/widgets/42", nil)
		w := &benchResponse{h: make(http.Header, 16)}
		const block = 512
		var wall [3]time.Duration
		order := []int{0, 1, 2}
		rounds := 0
		b.ReportAllocs()
		for b.Loop() {
			rand.Shuffle(len(order), func(i, j int) { order[i], order[j] = order[j], order[i] })
			for _, i := range order {
				t0 := time.Now()
				for range block {
					clear(w.h)
					hs[i].ServeHTTP(w, req)
				}
				if sinks[i] != nil {
					admin.Drain(sinks[i])
				}
				wall[i] += time.Since(t0)
			}
			rounds++
		}
		n := float64(rounds * block)
		b.ReportMetric(float64(wall[0])/n, "stack-ns/req")
		b.ReportMetric(float64(wall[1]-wall[0])/n, "metering-ns/req")
		b.ReportMetric(float64(wall[2]-wall[0])/n, "both-ns/req")
	})
}
