package middleware_test

import (
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/go-chi/chi/v5"

	"appkernel/middleware"
)

// hidingWriter wraps a ResponseWriter without Unwrap, as some
// instrumentation does.
type hidingWriter struct{ http.ResponseWriter }

// Observe middlewares run below Logger and above Recover: they see the
// status the access line logs (also a recovered panic's 500, and through
// a writer that hides the recorder), whether the peer is a trusted proxy,
// and the trace id they record lands in the access line, with either JSON
// handler.
func TestObserveMiddlewares(t *testing.T) {
	for _, h := range []struct {
		name string
		new  func(c *logCapture) *slog.Logger
	}{
		{"kernel JSON handler", func(c *logCapture) *slog.Logger { return slog.New(middleware.NewJSONHandler(c, nil)) }},
		{"slog JSON handler", func(c *logCapture) *slog.Logger { return c.logger() }},
	} {
		t.Run(h.name, func(t *testing.T) {
			var logs logCapture
			var seen []int
			var trusted []bool
			observe := func(next http.Handler) http.Handler {
				return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					middleware.SetTraceID(r.Context(), "4bf92f3577b34da6a3ce929d0e0e4736")
					trusted = append(trusted, middleware.FromTrustedProxy(r.Context()))
					next.ServeHTTP(hidingWriter{w}, r)
					status, ok := middleware.ResponseStatus(r.Context())
					if !ok {
						t.Error("ResponseStatus: no Logger found")
					}
					seen = append(seen, status)
				})
			}
			mws, err := middleware.Stack(middleware.StackOptions{
				Logger:         h.new(&logs),
				TrustedProxies: []string{"10.0.0.1"},
				Observe:        []func(http.Handler) http.Handler{nil, observe},
			})
			if err != nil {
				t.Fatal(err)
			}
			r := chi.NewRouter()
			r.NotFound(middleware.NotFound)
			r.Use(mws...)
			r.Get("/ok", func(w http.ResponseWriter, r *http.Request) {})
			r.Get("/teapot", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusTeapot) })
			r.Get("/boom", func(http.ResponseWriter, *http.Request) { panic("boom") })
			root := middleware.Root(r)
			for _, path := range []string{"/ok", "/teapot", "/boom", "/missing"} {
				req := httptest.NewRequest("GET", path, nil)
				req.RemoteAddr = "10.0.0.1:1234"
				if path == "/missing" {
					req.RemoteAddr = "192.0.2.1:1234"
				}
				root.ServeHTTP(httptest.NewRecorder(), req)
			}
			if want := []int{200, 418, 500, 404}; len(seen) != 4 || seen[0] != want[0] || seen[1] != want[1] || seen[2] != want[2] || seen[3] != want[3] {
				t.Errorf("statuses seen %v, want %v", seen, want)
			}
			if len(trusted) != 4 || !trusted[0] || trusted[3] {
				t.Errorf("trusted peer %v, want true for 10.0.0.1 and false for 192.0.2.1", trusted)
			}
			lines := logs.lines(t)
			if len(lines) != 4 {
				t.Fatalf("%d lines, want 4", len(lines))
			}
			for _, l := range lines {
				if l["trace_id"] != "4bf92f3577b34da6a3ce929d0e0e4736" || l["request_id"] == "" {
					t.Errorf("access line without the trace id: %v", l)
				}
			}
		})
	}
}

// Without a trace id the access line has no trace_id key.
func TestAccessLineWithoutTraceID(t *testing.T) {
	var logs logCapture
	mws, err := middleware.Stack(middleware.StackOptions{Logger: slog.New(middleware.NewJSONHandler(&logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	r := chi.NewRouter()
	r.Use(mws...)
	r.Get("/ok", func(http.ResponseWriter, *http.Request) {})
	middleware.Root(r).ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/ok", nil))
	if _, ok := logs.lines(t)[0]["trace_id"]; ok {
		t.Fatalf("trace_id without tracing: %v", logs.lines(t)[0])
	}
	if _, ok := middleware.ResponseStatus(httptest.NewRequest("GET", "/", nil).Context()); ok {
		t.Fatal("ResponseStatus outside the stack says ok")
	}
}
