package middleware_test

import (
	"context"
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

	// For the breakdown: the same stack with INFO lines disabled (the
	// middleware without slog's formatting), and slog's JSONHandler alone
	// writing an access line of the same shape.
	quiet, err := middleware.Stack(middleware.StackOptions{
		Logger:         slog.New(slog.NewJSONHandler(io.Discard, &slog.HandlerOptions{Level: slog.LevelWarn})),
		TrustedProxies: []string{"10.0.0.0/8"},
	})
	if err != nil {
		b.Fatal(err)
	}
	b.Run("full_info_log_off", func(b *testing.B) {
		ns, allocs := run(b, benchRouter(b, quiet))
		if bareNs > 0 {
			b.ReportMetric(ns-bareNs, "overhead-ns/op")
			b.ReportMetric(allocs-bareAllocs, "overhead-allocs/op")
		}
	})
	b.Run("slog_line_only", func(b *testing.B) {
		h := slog.NewJSONHandler(io.Discard, nil)
		ctx := context.Background()
		b.ReportAllocs()
		for b.Loop() {
			rec := slog.NewRecord(time.Now(), slog.LevelInfo, "request", 0)
			rec.AddAttrs(
				slog.String("method", "GET"),
				slog.String("route", "/widgets/{id}"),
				slog.String("path", "/widgets/42"),
				slog.Int("status", 200),
				slog.Int64("bytes", 31),
				slog.Float64("duration_ms", 0.123),
				slog.String("request_id", "0b8d6a3e-1f6e-4c2a-9d7b-5e4f3a2b1c0d"),
				slog.String("client_ip", "203.0.113.9"),
			)
			_ = h.Handle(ctx, rec)
		}
	})
}

func mallocs() uint64 {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.Mallocs
}
