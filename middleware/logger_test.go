package middleware_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/go-chi/chi/v5"

	"appkernel/middleware"
)

func TestLoggerAccessLine(t *testing.T) {
	t.Parallel()
	srv := newTestServer(t, middleware.StackOptions{})
	resp := srv.do(t, http.MethodGet, "/widgets/abc", nil, nil)
	body, _ := io.ReadAll(resp.Body)
	line := srv.logs.accessLine(t, resp.Header.Get("X-Request-ID"))
	want := map[string]any{
		"level":     "INFO",
		"msg":       "request",
		"method":    "GET",
		"route":     "/widgets/{id}",
		"path":      "/widgets/abc",
		"status":    float64(200),
		"bytes":     float64(len(body)),
		"client_ip": "127.0.0.1",
	}
	for k, v := range want {
		if line[k] != v {
			t.Errorf("%s = %v, want %v (line %v)", k, line[k], v, line)
		}
	}
	if d, ok := line["duration_ms"].(float64); !ok || d < 0 {
		t.Errorf("duration_ms = %v", line["duration_ms"])
	}
	if _, ok := line["user_id"]; ok {
		t.Errorf("user_id logged without an authenticated user: %v", line)
	}
}

func TestLoggerRedactPath(t *testing.T) {
	t.Parallel()
	srv := newTestServer(t, middleware.StackOptions{})
	resp := srv.do(t, http.MethodGet, "/secret/inv_topsecret", nil, nil)
	resp.Body.Close()
	line := srv.logs.accessLine(t, resp.Header.Get("X-Request-ID"))
	if line["path"] != "/secret/[redacted]" || line["route"] != "/secret/{token}" {
		t.Fatalf("access line %v", line)
	}
	if strings.Contains(srv.logs.String(), "inv_topsecret") {
		t.Fatalf("the secret path reached the logs:\n%s", srv.logs.String())
	}
}

func TestLoggerLevels(t *testing.T) {
	t.Parallel()
	srv := newTestServer(t, middleware.StackOptions{})
	// A 503 is a refusal the service expects while a dependency is away
	// (jobs_unavailable with Redis down): WARN, with its cause; a 500 is a
	// fault: ERROR.
	for path, level := range map[string]string{"/widgets/missing": "INFO", "/nope": "INFO", "/fail": "ERROR", "/unavailable": "WARN"} {
		resp := srv.do(t, http.MethodGet, path, nil, nil)
		line := srv.logs.accessLine(t, resp.Header.Get("X-Request-ID"))
		if line["level"] != level {
			t.Errorf("%s: level %v, want %s", path, line["level"], level)
		}
		if path == "/fail" && line["error"] != errInternal.Error() {
			t.Errorf("%s: the internal error is not in the line: %v", path, line)
		}
		if path == "/unavailable" && line["error"] != "jobs: Redis is unavailable: "+errRedisDown.Error() {
			t.Errorf("%s: the cause of the refusal is not in the line: %v", path, line)
		}
		if path == "/nope" && line["route"] != "" {
			t.Errorf("unknown route logged route %v", line["route"])
		}
	}
}

func TestLoggerSkipOnlyAtInfo(t *testing.T) {
	t.Parallel()
	logs := &logCapture{}
	mw, err := middleware.Logger(middleware.LoggerOptions{
		Logger: logs.logger(),
		Skip:   func(r *http.Request) bool { return strings.HasPrefix(r.URL.Path, "/healthz") },
	})
	if err != nil {
		t.Fatal(err)
	}
	h := mw(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Get("fail") != "" {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
	}))
	for _, target := range []string{"/healthz", "/healthz?fail=1", "/other"} {
		h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, target, nil))
	}
	lines := logs.lines(t)
	if len(lines) != 2 || lines[0]["level"] != "WARN" || lines[0]["path"] != "/healthz" || lines[1]["path"] != "/other" {
		t.Fatalf("want the failing /healthz (503) at WARN and /other, got %v", lines)
	}
}

// TestLoggerOutsideRouter: wrapped around a chi router (not inside Use),
// the route pattern is still logged.
func TestLoggerOutsideRouter(t *testing.T) {
	t.Parallel()
	logs := &logCapture{}
	mw, err := middleware.Logger(middleware.LoggerOptions{Logger: logs.logger()})
	if err != nil {
		t.Fatal(err)
	}
	r := chi.NewRouter()
	r.Get("/users/{id}/widgets", func(w http.ResponseWriter, r *http.Request) {
		if chi.URLParam(r, "id") != "5" {
			t.Errorf("URL param lost: %q", chi.URLParam(r, "id"))
		}
	})
	h := middleware.RequestID(mw(r))
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/users/5/widgets", nil))
	lines := logs.lines(t)
	if len(lines) != 1 || lines[0]["route"] != "/users/{id}/widgets" {
		t.Fatalf("route not logged: %v", lines)
	}
}

func TestLoggerCountsBytesAndKeepsFlusher(t *testing.T) {
	t.Parallel()
	logs := &logCapture{}
	mw, _ := middleware.Logger(middleware.LoggerOptions{Logger: logs.logger()})
	h := mw(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, "hello ")
		if err := http.NewResponseController(w).Flush(); err != nil {
			t.Errorf("Flush through the wrapper: %v", err)
		}
		_, _ = io.Copy(w, strings.NewReader("world"))
	}))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/", nil))
	if !rec.Flushed || rec.Body.String() != "hello world" {
		t.Fatalf("flushed %v body %q", rec.Flushed, rec.Body.String())
	}
	if l := logs.lines(t); len(l) != 1 || l[0]["bytes"] != float64(11) || l[0]["status"] != float64(200) {
		t.Fatalf("line %v", l)
	}
}

// noFlushWriter is a ResponseWriter that cannot flush, as some wrappers are.
type noFlushWriter struct{ http.ResponseWriter }

// TestLoggerFlushUnsupportedLeavesStatusOpen: a Flush that the server's
// writer cannot do sends nothing, so the status the handler sets afterwards
// is the one logged, and a later panic still becomes a JSON 500 rather than
// an aborted response.
func TestLoggerFlushUnsupportedLeavesStatusOpen(t *testing.T) {
	t.Parallel()
	logs, r := stackRouter(t)
	r.Get("/{then}", func(w http.ResponseWriter, r *http.Request) {
		if err := http.NewResponseController(w).Flush(); !errors.Is(err, http.ErrNotSupported) {
			t.Errorf("Flush = %v, want http.ErrNotSupported", err)
		}
		if chi.URLParam(r, "then") == "panic" {
			panic("after flush")
		}
		middleware.WriteError(w, r, errInternal)
	})
	for _, then := range []string{"fail", "panic"} {
		req := httptest.NewRequest(http.MethodGet, "/"+then, nil)
		req.Header.Set("X-Request-ID", "flush-"+then)
		rec := httptest.NewRecorder()
		middleware.Root(r).ServeHTTP(noFlushWriter{rec}, req)
		readError(t, rec.Result(), http.StatusInternalServerError, "internal_error")
		if line := logs.accessLine(t, "flush-"+then); line["status"] != float64(500) || line["level"] != "ERROR" {
			t.Errorf("%s: client got 500, access line %v", then, line)
		}
	}
}

// TestLoggerLineWhenResponseAborted: a request whose response is aborted
// (a panic after the response started, which Recover passes on as
// http.ErrAbortHandler, or a handler's own http.ErrAbortHandler) still has
// its access line, at ERROR with the status sent, written before the panic
// goes on to net/http; a recovered panic is in that line, not on a line of
// its own.
func TestLoggerLineWhenResponseAborted(t *testing.T) {
	t.Parallel()
	logs, r := stackRouter(t)
	r.Get("/late-panic", func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusAccepted)
		_, _ = io.WriteString(w, `{"items":[1,2`)
		panic("late")
	})
	r.Get("/abort-started", func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, "partial")
		panic(http.ErrAbortHandler)
	})
	r.Get("/abort", func(w http.ResponseWriter, r *http.Request) {
		panic(http.ErrAbortHandler)
	})
	for _, tc := range []struct {
		path   string
		status float64
		err    string
	}{
		{"/late-panic", 202, "panic: late"},
		{"/abort-started", 200, "response aborted: the handler panicked"},
		{"/abort", 0, "response aborted: the handler panicked"},
	} {
		req := httptest.NewRequest(http.MethodGet, tc.path, nil)
		req.Header.Set("X-Request-ID", "aborted"+strings.ReplaceAll(tc.path, "/", "-"))
		var logged string
		func() {
			defer func() {
				if v := recover(); v != http.ErrAbortHandler {
					t.Errorf("%s: recovered %v, want http.ErrAbortHandler passed on to net/http", tc.path, v)
				}
				logged = logs.String() // before the panic reaches net/http
			}()
			middleware.Root(r).ServeHTTP(httptest.NewRecorder(), req)
		}()
		if !strings.Contains(logged, req.Header.Get("X-Request-ID")) {
			t.Fatalf("%s: no access line before the panic went on:\n%s", tc.path, logged)
		}
		line := logs.accessLine(t, req.Header.Get("X-Request-ID"))
		if line["level"] != "ERROR" || line["status"] != tc.status || line["error"] != tc.err || line["path"] != tc.path {
			t.Errorf("%s: access line %v, want ERROR, status %v, error %q", tc.path, line, tc.status, tc.err)
		}
		if _, hasStack := line["stack"]; hasStack != (tc.path == "/late-panic") {
			t.Errorf("%s: stack in the line: %v", tc.path, hasStack)
		}
	}
	if errs := logs.atLevel(t, "ERROR"); len(errs) != 3 {
		t.Fatalf("want one ERROR line per request, got %v", errs)
	}
}

func TestLoggerFromConcurrent(t *testing.T) {
	t.Parallel()
	logs := &logCapture{}
	mw, _ := middleware.Logger(middleware.LoggerOptions{Logger: logs.logger()})
	h := middleware.RequestID(mw(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var wg sync.WaitGroup
		for i := range 8 {
			wg.Go(func() { middleware.LoggerFrom(r.Context()).Info("work", "i", i) })
		}
		wg.Wait()
	})))
	req := httptest.NewRequest(http.MethodGet, "/", nil)
	req.Header.Set("X-Request-ID", "req-1")
	h.ServeHTTP(httptest.NewRecorder(), req)
	lines := logs.lines(t)
	if len(lines) != 9 {
		t.Fatalf("want 8 work lines and the access line, got %d", len(lines))
	}
	for _, l := range lines {
		if l["request_id"] != "req-1" {
			t.Fatalf("line without request_id: %v", l)
		}
	}
}

func TestLoggerFromOutsideStack(t *testing.T) {
	t.Parallel()
	if middleware.LoggerFrom(context.Background()) != slog.Default() {
		t.Fatal("LoggerFrom outside the stack is not slog.Default()")
	}
}

// TestLoggerFromBeforeStack: a middleware placed before the stack (a
// tracing middleware, say) that calls LoggerFrom does not fix the request's
// logger early: under Root the state already exists then, yet handlers
// still log through the stack's logger with the request_id.
func TestLoggerFromBeforeStack(t *testing.T) {
	t.Parallel()
	logs := &logCapture{}
	mws, err := middleware.Stack(middleware.StackOptions{Logger: logs.logger()})
	if err != nil {
		t.Fatal(err)
	}
	var early *slog.Logger
	r := chi.NewRouter()
	r.Use(func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			early = middleware.LoggerFrom(r.Context())
			next.ServeHTTP(w, r)
		})
	})
	r.Use(mws...)
	r.Get("/", func(w http.ResponseWriter, r *http.Request) {
		middleware.LoggerFrom(r.Context()).Info("in handler")
	})
	req := httptest.NewRequest(http.MethodGet, "/", nil)
	req.Header.Set("X-Request-ID", "rid-early")
	middleware.Root(r).ServeHTTP(httptest.NewRecorder(), req)
	if early != slog.Default() {
		t.Errorf("LoggerFrom before the stack is not slog.Default()")
	}
	var found bool
	for _, l := range logs.lines(t) {
		if l["msg"] == "in handler" {
			found = l["request_id"] == "rid-early"
		}
	}
	if !found {
		t.Fatalf("the handler's line did not reach the stack's logger with request_id:\n%s", logs.String())
	}
}

// TestLoggerRouteOfMountedRouter: an app router mounted under a prefix (as
// Kernel.Mount does) logs the whole pattern.
func TestLoggerRouteOfMountedRouter(t *testing.T) {
	t.Parallel()
	logs := &logCapture{}
	mws, err := middleware.Stack(middleware.StackOptions{Logger: logs.logger()})
	if err != nil {
		t.Fatal(err)
	}
	root := chi.NewRouter()
	root.Use(mws...)
	app := chi.NewRouter()
	app.Get("/{id}/parts/{part}", func(w http.ResponseWriter, r *http.Request) {})
	root.Mount("/widgets", app)
	root.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/widgets/7/parts/9", nil))
	lines := logs.lines(t)
	if len(lines) != 1 || lines[0]["route"] != "/widgets/{id}/parts/{part}" || lines[0]["path"] != "/widgets/7/parts/9" {
		t.Fatalf("line %v", lines)
	}
}

// The access line written straight through NewJSONHandler (and through
// NewContextHandler over it) is the line slog's JSONHandler writes for the
// same request, apart from the clock readings.
func TestLoggerAccessLineSameWithFastHandler(t *testing.T) {
	t.Parallel()
	clock := regexp.MustCompile(`"time":"[^"]*"|"duration_ms":[0-9.e+-]*`)
	handlers := map[string]func(io.Writer) slog.Handler{
		"slog": func(w io.Writer) slog.Handler { return slog.NewJSONHandler(w, nil) },
		"fast": func(w io.Writer) slog.Handler { return middleware.NewJSONHandler(w, nil) },
		"context+fast": func(w io.Writer) slog.Handler {
			return middleware.NewContextHandler(middleware.NewJSONHandler(w, nil))
		},
		"group+fast": func(w io.Writer) slog.Handler {
			return middleware.NewJSONHandler(w, nil).WithAttrs([]slog.Attr{slog.String("svc", "w")}).WithGroup("http")
		},
		"group+slog": func(w io.Writer) slog.Handler {
			return slog.NewJSONHandler(w, nil).WithAttrs([]slog.Attr{slog.String("svc", "w")}).WithGroup("http")
		},
		"open+fast": func(w io.Writer) slog.Handler {
			return middleware.NewJSONHandler(w, nil).WithGroup("http").WithAttrs([]slog.Attr{slog.String("svc", "w")})
		},
		"open+slog": func(w io.Writer) slog.Handler {
			return slog.NewJSONHandler(w, nil).WithGroup("http").WithAttrs([]slog.Attr{slog.String("svc", "w")})
		},
		"attrs+fast": func(w io.Writer) slog.Handler {
			return middleware.NewJSONHandler(w, nil).WithAttrs([]slog.Attr{slog.String("svc", "w"), slog.Int("n", 1)})
		},
		"attrs+slog": func(w io.Writer) slog.Handler {
			return slog.NewJSONHandler(w, nil).WithAttrs([]slog.Attr{slog.String("svc", "w"), slog.Int("n", 1)})
		},
	}
	lines := map[string]string{}
	for name, newHandler := range handlers {
		var buf bytes.Buffer
		mws, err := middleware.Stack(middleware.StackOptions{Logger: slog.New(newHandler(&buf)), TrustedProxies: []string{"10.0.0.0/8"}})
		if err != nil {
			t.Fatal(err)
		}
		r := chi.NewRouter()
		r.Use(mws...)
		r.Get("/widgets/{id}", func(w http.ResponseWriter, r *http.Request) {
			middleware.SetUserID(r.Context(), "u\"1<")
			if r.URL.Query().Has("fail") {
				middleware.WriteError(w, r, errors.New("db \xff down\n"))
				return
			}
			middleware.WriteJSON(w, http.StatusOK, map[string]string{"id": chi.URLParam(r, "id")})
		})
		for _, target := range []string{"/widgets/%e2%80%a8x?a=1", "/widgets/1?fail=1"} {
			req := httptest.NewRequest(http.MethodGet, target, nil)
			req.Header.Set(middleware.RequestIDHeader, "fixed-id")
			req.RemoteAddr = "10.1.2.3:5000"
			req.Header.Set("X-Forwarded-For", "203.0.113.7")
			r.ServeHTTP(httptest.NewRecorder(), req)
		}
		lines[name] = clock.ReplaceAllString(buf.String(), "CLOCK")
	}
	if strings.Count(lines["slog"], "\n") != 2 || !strings.Contains(lines["slog"], `"user_id":"u\"1<"`) {
		t.Fatalf("unexpected reference lines:\n%s", lines["slog"])
	}
	for _, name := range []string{"fast", "context+fast"} {
		if lines[name] != lines["slog"] {
			t.Errorf("%s:\n%s\nslog:\n%s", name, lines[name], lines["slog"])
		}
	}
	for _, kind := range []string{"group", "open", "attrs"} {
		if fast, std := lines[kind+"+fast"], lines[kind+"+slog"]; fast != std || strings.Count(std, "\n") != 2 {
			t.Errorf("%s+fast:\n%s\n%s+slog:\n%s", kind, fast, kind, std)
		}
	}
}

// A 4xx whose error text the client did not see (only its ClientMessage:
// a database conflict) has that text in the request's access line, at
// INFO; a 4xx shown whole to the client adds nothing.
func TestLoggerKeepsWithheldErrorText(t *testing.T) {
	t.Parallel()
	logs, r := stackRouter(t)
	r.Get("/taken", func(w http.ResponseWriter, r *http.Request) { middleware.WriteError(w, r, driverConflict{}) })
	r.Get("/missing", func(w http.ResponseWriter, r *http.Request) { middleware.WriteError(w, r, notFoundErr{}) })
	for path, want := range map[string]any{"/taken": driverConflict{}.Error(), "/missing": nil} {
		rec := httptest.NewRecorder()
		r.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
		line := logs.accessLine(t, rec.Header().Get("X-Request-ID"))
		if line["level"] != "INFO" || line["error"] != want {
			t.Errorf("%s: access line %v, want error %v at INFO", path, line, want)
		}
		if strings.Contains(rec.Body.String(), "Duplicate") {
			t.Errorf("%s: body %s", path, rec.Body)
		}
	}
}
