package appkernel_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"

	"appkernel"
	"appkernel/internal/health"
	"appkernel/middleware"
)

// healthzWriter is a minimal, reusable ResponseWriter: the benchmark
// measures the kernel's /healthz path, not a recorder.
type healthzWriter struct {
	h    http.Header
	code int
}

func (w *healthzWriter) Header() http.Header         { return w.h }
func (w *healthzWriter) Write(p []byte) (int, error) { return len(p), nil }
func (w *healthzWriter) WriteHeader(code int)        { w.code = code }

// BenchmarkHealthz is what the kernel's GET /healthz costs in process:
// Kernel.ServeHTTP (request ID, security headers, the liveness body)
// beside health.Live served bare, the floor, in one run. Each request gets
// a fresh header map, as net/http gives it.
//
//	go test -run '^$' -bench Healthz -benchmem .
func BenchmarkHealthz(b *testing.B) {
	cfg := appkernel.DefaultConfig()
	cfg.DisableDatabase = true
	cfg.DisableDevAutostart = true
	cfg.Logger = slog.New(middleware.NewJSONHandler(io.Discard, nil))
	k, err := appkernel.New(context.Background(), cfg)
	if err != nil {
		b.Fatal(err)
	}
	defer k.Close()
	req := httptest.NewRequest(http.MethodGet, "/healthz", nil)
	req.RemoteAddr = "127.0.0.1:50000"
	for _, tc := range []struct {
		name string
		h    http.Handler
	}{
		{"bare", http.HandlerFunc(health.Live)},
		{"kernel", k},
	} {
		b.Run(tc.name, func(b *testing.B) {
			b.ReportAllocs()
			w := &healthzWriter{}
			for b.Loop() {
				w.h = make(http.Header, 8)
				tc.h.ServeHTTP(w, req)
				if w.code != http.StatusOK {
					b.Fatalf("status %d", w.code)
				}
			}
		})
	}
}
