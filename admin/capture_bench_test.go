package admin_test

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/go-chi/chi/v5"

	"appkernel/admin"
	"appkernel/auth"
	"appkernel/db"
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
// (NewDiscardRecorder): its flusher gives the ids and diffs the audit
// changes off the request's path, as in the kernel (BenchmarkRecorderFinish
// is that work per event). overhead-ns/op is against "stack" of the same
// run; the target is at most 2000.
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
		for b.Loop() {
			clear(w.h)
			h.ServeHTTP(w, req)
		}
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
}
