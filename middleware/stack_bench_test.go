package middleware_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/go-chi/chi/v5"

	"appkernel/internal/testenv"
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

// kernelRouter is benchRouter behind Root, the way the kernel serves its
// root router.
func kernelRouter(b *testing.B, mws []func(http.Handler) http.Handler) http.Handler {
	return middleware.Root(benchRouter(b, mws).(chi.Router))
}

// BenchmarkStack serves the same JSON 200 through bare chi and through chi
// with the full default stack (request ID generated, real IP with a trusted
// proxy list, JSON access log to io.Discard through the kernel's default
// handler NewJSONHandler, recover, security headers, CORS, body limit),
// served the kernel's way: behind Root. "full_without_root" is the same
// router served directly (Router.Use alone), "full_slog" the full stack
// logging through slog.NewJSONHandler.
//
// Besides wall time (ns/op) every case reports cpu-ns/op: the process's CPU
// time per request, garbage collection included. On a shared machine wall
// time swings with other processes' load; CPU time much less, so the
// overhead figures to quote are overhead-cpu-ns/op and x-bare-cpu of "full"
// (against "bare_chi" of the same run) and of "paired" (which alternates
// blocks of bare and full requests so both see the same conditions).
func BenchmarkStack(b *testing.B) {
	stack := func(h slog.Handler) []func(http.Handler) http.Handler {
		mws, err := middleware.Stack(middleware.StackOptions{
			Logger:         slog.New(h),
			TrustedProxies: []string{"10.0.0.0/8"},
		})
		if err != nil {
			b.Fatal(err)
		}
		return mws
	}
	full := stack(middleware.NewJSONHandler(io.Discard, nil))
	fullSlog := stack(slog.NewJSONHandler(io.Discard, nil))
	newReq := func() (*http.Request, *benchWriter) {
		req := httptest.NewRequest(http.MethodGet, "/widgets/42", nil)
		req.RemoteAddr = "203.0.113.9:52100"
		return req, &benchWriter{h: make(http.Header, 16)}
	}
	run := func(b *testing.B, h http.Handler) benchResult { return runBench(b, h, newReq) }
	overhead := reportOverhead

	var bare benchResult
	b.Run("bare_chi", func(b *testing.B) {
		bare = run(b, benchRouter(b, nil))
	})
	b.Run("full", func(b *testing.B) {
		overhead(b, run(b, kernelRouter(b, full)), bare)
	})
	b.Run("full_without_root", func(b *testing.B) {
		overhead(b, run(b, benchRouter(b, full)), bare)
	})
	b.Run("full_slog", func(b *testing.B) {
		overhead(b, run(b, kernelRouter(b, fullSlog)), bare)
	})

	// paired: blocks of bare and full requests alternating (runPaired).
	b.Run("paired", func(b *testing.B) {
		runPaired(b, benchRouter(b, nil), kernelRouter(b, full), newReq)
	})

	// For the breakdown: the same stack with INFO lines disabled (the
	// middleware without the line's formatting), and each JSON handler
	// alone writing an access line of the same shape from a slog.Record.
	quiet := stack(middleware.NewJSONHandler(io.Discard, &slog.HandlerOptions{Level: slog.LevelWarn}))
	b.Run("full_info_log_off", func(b *testing.B) {
		overhead(b, run(b, kernelRouter(b, quiet)), bare)
	})
	lineOnly := func(b *testing.B, h slog.Handler) {
		ctx := context.Background()
		b.ReportAllocs()
		c0 := testenv.ProcessCPU()
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
		b.ReportMetric(float64(testenv.ProcessCPU()-c0)/float64(b.N), "cpu-ns/op")
	}
	b.Run("line_only_slog", func(b *testing.B) { lineOnly(b, slog.NewJSONHandler(io.Discard, nil)) })
	b.Run("line_only_kernel", func(b *testing.B) { lineOnly(b, middleware.NewJSONHandler(io.Discard, nil)) })
}

// BenchmarkStackCrossOrigin is BenchmarkStack's "bare_chi", "full" and
// "paired" for a browser's request through a proxy, the two paths
// BenchmarkStack's request (no Origin, untrusted peer) never takes: Origin
// is one of the stack's explicit AllowedOrigins (as a deployment lists
// them), so CORS matches it and answers with Access-Control-Allow-Origin;
// the peer is a trusted proxy sending "X-Forwarded-For: 203.0.113.9,
// 10.1.2.3", so RealIP walks the header to the client. Bare chi serves the
// same request. Metrics are named as in BenchmarkStack.
func BenchmarkStackCrossOrigin(b *testing.B) {
	const origin = "https://app.example.com"
	stack := func(h slog.Handler) []func(http.Handler) http.Handler {
		mws, err := middleware.Stack(middleware.StackOptions{
			Logger:         slog.New(h),
			TrustedProxies: []string{"10.0.0.0/8"},
			CORS:           middleware.CORSOptions{AllowedOrigins: []string{origin, "https://admin.example.com"}},
		})
		if err != nil {
			b.Fatal(err)
		}
		return mws
	}
	newReq := func() (*http.Request, *benchWriter) {
		req := httptest.NewRequest(http.MethodGet, "/widgets/42", nil)
		req.RemoteAddr = "10.0.0.7:52100"
		req.Header.Set("Origin", origin)
		req.Header.Set("X-Forwarded-For", "203.0.113.9, 10.1.2.3")
		return req, &benchWriter{h: make(http.Header, 16)}
	}

	// The request takes the paths it is meant to measure.
	logs := &logCapture{}
	req, w := newReq()
	kernelRouter(b, stack(middleware.NewJSONHandler(logs, nil))).ServeHTTP(w, req)
	if w.status != http.StatusOK || w.h.Get("Access-Control-Allow-Origin") != origin ||
		!strings.Contains(logs.String(), `"client_ip":"203.0.113.9"`) || req.RemoteAddr != "10.0.0.7:52100" {
		b.Fatalf("status %d, headers %v, log %s, RemoteAddr %s", w.status, w.h, logs, req.RemoteAddr)
	}

	full := stack(middleware.NewJSONHandler(io.Discard, nil))
	var bare benchResult
	b.Run("bare_chi", func(b *testing.B) {
		bare = runBench(b, benchRouter(b, nil), newReq)
	})
	b.Run("full", func(b *testing.B) {
		reportOverhead(b, runBench(b, kernelRouter(b, full), newReq), bare)
	})
	// paired: as in BenchmarkStack, blocks of bare and full requests in
	// one loop, metrics per request of each kind.
	b.Run("paired", func(b *testing.B) {
		runPaired(b, benchRouter(b, nil), kernelRouter(b, full), newReq)
	})
}

// BenchmarkStackLayers shows where the stack's cost goes: Root over bare
// chi, then the default chain built up one middleware at a time behind it
// (access log at WARN, so only
// the middleware's own work counts; "line_only_*" of BenchmarkStack is
// the line), and each prefix serves blocks of requests in turn. Metrics are
// process CPU ns per request of each prefix; the difference between
// neighbours is that middleware's cost.
func BenchmarkStackLayers(b *testing.B) {
	full, _ := middleware.Stack(middleware.StackOptions{
		Logger:         slog.New(middleware.NewJSONHandler(io.Discard, &slog.HandlerOptions{Level: slog.LevelWarn})),
		TrustedProxies: []string{"10.0.0.0/8"},
	})
	names := []string{"0_bare_chi", "1_root", "2_request_id", "3_real_ip", "4_logger", "5_recover", "6_security_headers", "7_cors", "8_body_limit"}
	hs := []http.Handler{benchRouter(b, nil)}
	for i := range len(full) + 1 {
		hs = append(hs, kernelRouter(b, full[:i]))
	}
	req := httptest.NewRequest(http.MethodGet, "/widgets/42", nil)
	req.RemoteAddr = "203.0.113.9:52100"
	w := &benchWriter{h: make(http.Header, 16)}
	tot := make([]int64, len(hs))
	n := 0
	for b.Loop() {
		for i, h := range hs {
			c0 := testenv.ProcessCPU()
			for range 256 {
				clear(w.h)
				h.ServeHTTP(w, req)
			}
			tot[i] += testenv.ProcessCPU() - c0
		}
		n += 256
	}
	for i := range hs {
		b.ReportMetric(float64(tot[i])/float64(n), names[i]+"-cpu-ns/req")
	}
}

func mallocs() uint64 {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.Mallocs
}

// benchResult is one case's wall time, process CPU time and allocations
// per request.
type benchResult struct{ ns, cpu, allocs float64 }

// runBench serves newReq's request through h for b.N iterations and
// reports cpu-ns/op.
func runBench(b *testing.B, h http.Handler, newReq func() (*http.Request, *benchWriter)) benchResult {
	req, w := newReq()
	b.ReportAllocs()
	m0, c0, t0 := mallocs(), testenv.ProcessCPU(), time.Now()
	for b.Loop() {
		clear(w.h)
		h.ServeHTTP(w, req)
	}
	elapsed, c1, m1 := time.Since(t0), testenv.ProcessCPU(), mallocs()
	if w.status != http.StatusOK {
		b.Fatalf("status %d", w.status)
	}
	n := float64(b.N)
	r := benchResult{ns: float64(elapsed.Nanoseconds()) / n, cpu: float64(c1-c0) / n, allocs: float64(m1-m0) / n}
	b.ReportMetric(r.cpu, "cpu-ns/op")
	return r
}

// reportOverhead reports r over bare of the same run.
func reportOverhead(b *testing.B, r, bare benchResult) {
	if bare.ns == 0 {
		return
	}
	b.ReportMetric(r.cpu-bare.cpu, "overhead-cpu-ns/op")
	b.ReportMetric(r.cpu/bare.cpu, "x-bare-cpu")
	b.ReportMetric(r.ns-bare.ns, "overhead-ns/op")
	b.ReportMetric(r.allocs-bare.allocs, "overhead-allocs/op")
}

// runPaired alternates blocks of bare and full requests in one loop. Its
// own ns/op is one bare plus one full request; its metrics are per
// request of each kind. It counts no allocations (full does):
// runtime.ReadMemStats stops the world, and calling it between blocks
// made the blocks after it slower.
func runPaired(b *testing.B, bareH, fullH http.Handler, newReq func() (*http.Request, *benchWriter)) {
	req, w := newReq()
	const block = 128
	var tBare, tFull time.Duration
	var cBare, cFull int64
	n := 0
	for b.Loop() {
		if n%block == 0 {
			c0, t0 := testenv.ProcessCPU(), time.Now()
			for range block {
				clear(w.h)
				bareH.ServeHTTP(w, req)
			}
			tBare += time.Since(t0)
			c1, t1 := testenv.ProcessCPU(), time.Now()
			cBare += c1 - c0
			for range block {
				clear(w.h)
				fullH.ServeHTTP(w, req)
			}
			tFull += time.Since(t1)
			cFull += testenv.ProcessCPU() - c1
		}
		n++
	}
	runs := float64((n + block - 1) / block * block)
	bareCPU, fullCPU := float64(cBare)/runs, float64(cFull)/runs
	b.ReportMetric(bareCPU, "bare-cpu-ns/req")
	b.ReportMetric(fullCPU, "full-cpu-ns/req")
	b.ReportMetric(fullCPU-bareCPU, "overhead-cpu-ns/req")
	b.ReportMetric(fullCPU/bareCPU, "x-bare-cpu")
	b.ReportMetric(float64((tFull-tBare).Nanoseconds())/runs, "overhead-ns/req")
}
