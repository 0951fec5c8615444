package middleware_test

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"runtime"
	"testing"
	"time"

	"github.com/go-chi/chi/v5"

	"appkernel/middleware"
)

// benchWriter is a minimal, reusable ResponseWriter so that the benchmark
// measures the handlers, not a recorder's bookkeeping. Both sides use it.
type benchWriter struct {
	h      http.Header
	status int
}

func (w *benchWriter) Header() http.Header         { return w.h }
func (w *benchWriter) WriteHeader(code int)        { w.status = code }
func (w *benchWriter) Write(b []byte) (int, error) { return len(b), nil }

type widget struct {
	ID   string `json:"id"`
	Name string `json:"name"`
}

func benchHandler(w http.ResponseWriter, r *http.Request) {
	middleware.WriteJSON(w, http.StatusOK, widget{ID: chi.URLParam(r, "id"), Name: "sprocket"})
}

func benchRouter(b *testing.B, mws []func(http.Handler) http.Handler) http.Handler {
	b.Helper()
	r := chi.NewRouter()
	r.Use(mws...)
	r.NotFound(middleware.NotFound)
	r.MethodNotAllowed(middleware.MethodNotAllowed)
	r.Get("/widgets/{id}", benchHandler)
	return r
}

// BenchmarkStack serves the same JSON 200 through bare chi and through chi
// with the full default stack (request ID generated, real IP with a trusted
// proxy list, JSON access log to io.Discard, recover, security headers,
// CORS, body limit). The full case reports its overhead over bare chi,
// measured in the same run just before it.
func BenchmarkStack(b *testing.B) {
	full, err := middleware.Stack(middleware.StackOptions{
		Logger:         slog.New(slog.NewJSONHandler(io.Discard, nil)),
		TrustedProxies: []string{"10.0.0.0/8"},
	})
	if err != nil {
		b.Fatal(err)
	}
	run := func(b *testing.B, h http.Handler) (nsPerOp, allocsPerOp float64) {
		req := httptest.NewRequest(http.MethodGet, "/widgets/42", nil)
		req.RemoteAddr = "203.0.113.9:52100"
		w := &benchWriter{h: make(http.Header, 16)}
		b.ReportAllocs()
		ms0 := mallocs()
		start := time.Now()
		for b.Loop() {
			clear(w.h)
			h.ServeHTTP(w, req)
		}
		elapsed := time.Since(start)
		ms1 := mallocs()
		if w.status != http.StatusOK {
			b.Fatalf("status %d", w.status)
		}
		return float64(elapsed.Nanoseconds()) / float64(b.N), float64(ms1-ms0) / float64(b.N)
	}

	var bareNs, bareAllocs float64
	b.Run("bare_chi", func(b *testing.B) {
		bareNs, bareAllocs = run(b, benchRouter(b, nil))
	})
	b.Run("full", func(b *testing.B) {
		ns, allocs := run(b, benchRouter(b, full))
		if bareNs > 0 {
			b.ReportMetric(ns-bareNs, "overhead-ns/op")
			b.ReportMetric(allocs-bareAllocs, "overhead-allocs/op")
			b.ReportMetric(ns/bareNs, "x-bare")
		}
	})
}

func mallocs() uint64 {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.Mallocs
}
