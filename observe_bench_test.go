//go:build unix

package appkernel_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/go-chi/chi/v5"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"

	"appkernel"
	"appkernel/internal/testenv"
	"appkernel/middleware"
)

// BenchmarkKernelObservability is what metrics and tracing cost a request
// through the whole kernel stack (no database, no Redis, a JSON 200 on a
// route with a parameter): "off" is the kernel as configured by default
// (no METRICS_ADDR, no OTEL_* endpoint: no hook is installed, so it is
// also the cost of tracing unset), "metrics" with METRICS_ADDR set (the
// target is at most 1 µs over "off"), "tracing" with a tracer provider
// that samples every request and exports nowhere (the span's own cost,
// without the exporter's). Compare ns/op, cpu-ns/op and allocs/op:
//
//	go test -run '^$' -bench KernelObservability -count 5 . | tee /tmp/obs.txt
//	go run golang.org/x/perf/cmd/benchstat@latest -col /obs /tmp/obs.txt
func BenchmarkKernelObservability(b *testing.B) {
	for _, tc := range []struct {
		name string
		edit func(*appkernel.Config)
	}{
		{"obs=off", func(*appkernel.Config) {}},
		{"obs=metrics", func(c *appkernel.Config) { c.MetricsAddr = "127.0.0.1:0" }},
		{"obs=tracing", func(c *appkernel.Config) { c.TracerProvider = sdktrace.NewTracerProvider() }},
	} {
		b.Run(tc.name, func(b *testing.B) {
			cfg := appkernel.DefaultConfig()
			cfg.DisableDatabase = true
			cfg.DisableDevAutostart = true
			cfg.Logger = slog.New(middleware.NewJSONHandler(io.Discard, nil))
			tc.edit(&cfg)
			k, err := appkernel.New(context.Background(), cfg)
			if err != nil {
				b.Fatal(err)
			}
			defer k.Close()
			k.Router().Get("/bench/{id}", func(w http.ResponseWriter, r *http.Request) {
				middleware.WriteJSON(w, http.StatusOK, map[string]any{"id": chi.URLParam(r, "id")})
			})
			req := httptest.NewRequest(http.MethodGet, "/bench/42", nil)
			b.ReportAllocs()
			cpu := testenv.ProcessCPU()
			b.ResetTimer()
			for b.Loop() {
				rec := httptest.NewRecorder()
				k.ServeHTTP(rec, req)
				if rec.Code != http.StatusOK {
					b.Fatalf("status %d", rec.Code)
				}
			}
			b.StopTimer()
			b.ReportMetric(float64(testenv.ProcessCPU()-cpu)/float64(b.N), "cpu-ns/op")
		})
	}
}
