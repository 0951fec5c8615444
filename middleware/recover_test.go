package middleware_test

import (
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/go-chi/chi/v5"

	"appkernel/middleware"
)

func TestRecoverPanicIsOneErrorLineWithStack(t *testing.T) {
	t.Parallel()
	srv := newTestServer(t, middleware.StackOptions{})
	resp := srv.do(t, http.MethodGet, "/panic", nil, nil)
	d := readError(t, resp, http.StatusInternalServerError, "internal_error")
	if strings.Contains(d.Message, "secret") {
		t.Fatalf("panic text leaked to the client: %q", d.Message)
	}
	errs := srv.logs.atLevel(t, "ERROR")
	if len(errs) != 1 {
		t.Fatalf("want one ERROR line, got %v", errs)
	}
	l := errs[0]
	if l["request_id"] != d.RequestID || !strings.Contains(l["error"].(string), "secret internal detail") ||
		!strings.Contains(l["stack"].(string), "helpers_test.go") {
		t.Fatalf("ERROR line lacks request_id, panic or stack: %v", l)
	}
	srv.assertServing(t)
}

func TestRecoverDebugShowsPanic(t *testing.T) {
	t.Parallel()
	srv := newTestServer(t, middleware.StackOptions{Debug: true})
	d := readError(t, srv.do(t, http.MethodGet, "/panic", nil, nil), http.StatusInternalServerError, "internal_error")
	if d.Message != "panic: secret internal detail" {
		t.Fatalf("debug message %q", d.Message)
	}
	d = readError(t, srv.do(t, http.MethodGet, "/fail", nil, nil), http.StatusInternalServerError, "internal_error")
	if d.Message != errInternal.Error() {
		t.Fatalf("debug message %q", d.Message)
	}
}

// TestRecoverWithoutLogger: used alone, Recover logs the panic itself.
func TestRecoverWithoutLogger(t *testing.T) {
	t.Parallel()
	logs := &logCapture{}
	mw, err := middleware.Recover(middleware.RecoverOptions{Logger: logs.logger()})
	if err != nil {
		t.Fatal(err)
	}
	h := middleware.RequestID(mw(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		panic(errors.New("boom"))
	})))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/x", nil))
	if rec.Code != http.StatusInternalServerError || !strings.Contains(rec.Body.String(), `"request_id"`) {
		t.Fatalf("got %d %s", rec.Code, rec.Body)
	}
	lines := logs.lines(t)
	if len(lines) != 1 || lines[0]["level"] != "ERROR" || lines[0]["request_id"] != rec.Header().Get("X-Request-ID") ||
		!strings.Contains(lines[0]["stack"].(string), "goroutine") {
		t.Fatalf("panic line %v", lines)
	}
}

func TestRecoverRepanicsErrAbortHandler(t *testing.T) {
	t.Parallel()
	mw, _ := middleware.Recover(middleware.RecoverOptions{Logger: (&logCapture{}).logger()})
	h := mw(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		panic(http.ErrAbortHandler)
	}))
	defer func() {
		if v := recover(); v != http.ErrAbortHandler {
			t.Fatalf("recovered %v, want http.ErrAbortHandler passed on", v)
		}
	}()
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/", nil))
}

// TestRecoverAfterResponseStarted: a panic mid-body cannot become a JSON
// error; the connection is aborted so the client does not take a truncated
// body for a whole one, the panic is logged, and the server goes on.
func TestRecoverAfterResponseStarted(t *testing.T) {
	t.Parallel()
	logs := &logCapture{}
	mws, err := middleware.Stack(middleware.StackOptions{Logger: logs.logger()})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/", newApp(mws))
	h := http.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusOK)
		_, _ = io.WriteString(w, strings.Repeat("x", 100))
		w.(http.Flusher).Flush()
		panic("mid-body")
	}))
	for i := len(mws) - 1; i >= 0; i-- {
		h = mws[i](h)
	}
	mux.Handle("/midbody", h)
	srv := httptest.NewServer(mux)
	defer srv.Close()

	resp, err := srv.Client().Get(srv.URL + "/midbody")
	if err == nil {
		_, err = io.ReadAll(resp.Body)
		resp.Body.Close()
	}
	if err == nil {
		t.Fatal("client read a complete response from a handler that panicked mid-body")
	}
	errs := logs.atLevel(t, "ERROR")
	if len(errs) != 1 || errs[0]["error"] != "panic: mid-body" {
		t.Fatalf("want the panic logged once at ERROR, got %v", errs)
	}
	resp, err = srv.Client().Get(srv.URL + "/widgets/1")
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("server stopped serving: %v", err)
	}
	resp.Body.Close()
}

// TestRecoverDropsHandlerBodyHeaders: a handler that declared its own body
// (length, encoding) and then panicked still yields a well-formed JSON 500.
func TestRecoverDropsHandlerBodyHeaders(t *testing.T) {
	t.Parallel()
	mw, _ := middleware.Recover(middleware.RecoverOptions{Logger: (&logCapture{}).logger()})
	srv := httptest.NewServer(middleware.RequestID(mw(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", "5000")
		w.Header().Set("Content-Encoding", "gzip")
		panic("after headers")
	}))))
	defer srv.Close()
	resp, err := srv.Client().Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	readError(t, resp, http.StatusInternalServerError, "internal_error")
}

// TestRecoverPanicLineRedactsPath: the line that logs a panic shows the path
// given to RedactPath, never the secret in the URL, both under the full
// stack (a panic after the response started) and with Recover alone.
func TestRecoverPanicLineRedactsPath(t *testing.T) {
	t.Parallel()
	join := func(w http.ResponseWriter, r *http.Request) {
		middleware.RedactPath(r.Context(), "/join/[redacted]")
		if r.URL.Query().Has("started") {
			_, _ = io.WriteString(w, "partial")
			w.(http.Flusher).Flush()
		}
		panic("boom")
	}

	stackLogs := &logCapture{}
	mws, err := middleware.Stack(middleware.StackOptions{Logger: stackLogs.logger()})
	if err != nil {
		t.Fatal(err)
	}
	r := chi.NewRouter()
	r.Use(mws...)
	r.Get("/join/{token}", join)
	srv := httptest.NewServer(middleware.Root(r))
	defer srv.Close()
	if resp, err := srv.Client().Get(srv.URL + "/join/SECRET-TOKEN?started=1"); err == nil {
		_, _ = io.ReadAll(resp.Body)
		resp.Body.Close()
	}

	aloneLogs := &logCapture{}
	rc, err := middleware.Recover(middleware.RecoverOptions{Logger: aloneLogs.logger()})
	if err != nil {
		t.Fatal(err)
	}
	middleware.RequestID(rc(http.HandlerFunc(join))).ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/join/SECRET-TOKEN", nil))

	for name, logs := range map[string]*logCapture{"stack": stackLogs, "Recover alone": aloneLogs} {
		errs := logs.atLevel(t, "ERROR")
		if len(errs) != 1 || errs[0]["path"] != "/join/[redacted]" || errs[0]["error"] != "panic: boom" {
			t.Errorf("%s: want one ERROR line with the redacted path, got %v", name, errs)
		}
		if strings.Contains(logs.String(), "SECRET-TOKEN") {
			t.Errorf("%s: the secret path reached the logs:\n%s", name, logs.String())
		}
	}
}
