package middleware_test

import (
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"

	"github.com/go-chi/chi/v5"

	"appkernel/internal/testenv"
	"appkernel/middleware"
)

// logCapture collects the JSON lines of a slog logger.
type logCapture struct{ testenv.Buffer }

func (c *logCapture) logger() *slog.Logger {
	return slog.New(slog.NewJSONHandler(c, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// lines returns every logged line, decoded.
func (c *logCapture) lines(t *testing.T) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, l := range strings.Split(strings.TrimSpace(c.String()), "\n") {
		if l == "" {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("log line is not JSON: %q: %v", l, err)
		}
		out = append(out, m)
	}
	return out
}

func (c *logCapture) atLevel(t *testing.T, level string) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, l := range c.lines(t) {
		if l["level"] == level {
			out = append(out, l)
		}
	}
	return out
}

// accessLine returns the one access line ("request") with the given request ID.
func (c *logCapture) accessLine(t *testing.T, requestID string) map[string]any {
	t.Helper()
	var found []map[string]any
	for _, l := range c.lines(t) {
		if l["msg"] == "request" && l["request_id"] == requestID {
			found = append(found, l)
		}
	}
	if len(found) != 1 {
		t.Fatalf("want 1 access line for request %s, got %d: %v", requestID, len(found), c.lines(t))
	}
	return found[0]
}

// errInternal is an error without HTTP meaning: a real fault.
var errInternal = errors.New("disk on fire")

var errRedisDown = errors.New("dial tcp 127.0.0.1:6379: connect: connection refused")

// notFoundErr is how other kernel packages give errors an HTTP meaning
// without importing middleware.
type notFoundErr struct{}

func (notFoundErr) Error() string     { return "widget not found" }
func (notFoundErr) HTTPStatus() int   { return http.StatusNotFound }
func (notFoundErr) ErrorCode() string { return "not_found" }

type testServer struct {
	*httptest.Server
	logs *logCapture
}

// newTestServer serves a small app behind the full default stack, the way
// the kernel wires it (Router.Use, served through Root).
func newTestServer(t *testing.T, opts middleware.StackOptions) *testServer {
	t.Helper()
	logs := &logCapture{}
	if opts.Logger == nil {
		opts.Logger = logs.logger()
	}
	mws, err := middleware.Stack(opts)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(middleware.Root(newApp(mws)))
	t.Cleanup(srv.Close)
	return &testServer{Server: srv, logs: logs}
}

// stackRouter returns a chi router using the default stack, which logs
// into the returned capture.
func stackRouter(t *testing.T) (*logCapture, *chi.Mux) {
	t.Helper()
	logs := &logCapture{}
	mws, err := middleware.Stack(middleware.StackOptions{Logger: logs.logger()})
	if err != nil {
		t.Fatal(err)
	}
	r := chi.NewRouter()
	r.Use(mws...)
	return logs, r
}

// newApp is the test app's root router using mws; newTestServer serves it
// behind Root.
func newApp(mws []func(http.Handler) http.Handler) *chi.Mux {
	r := chi.NewRouter()
	r.Use(mws...)
	r.NotFound(middleware.NotFound)
	r.MethodNotAllowed(middleware.MethodNotAllowed)
	r.Get("/widgets/{id}", func(w http.ResponseWriter, r *http.Request) {
		if chi.URLParam(r, "id") == "missing" {
			middleware.WriteError(w, r, notFoundErr{})
			return
		}
		middleware.LoggerFrom(r.Context()).Info("loading widget", "id", chi.URLParam(r, "id"))
		middleware.WriteJSON(w, http.StatusOK, widget{ID: chi.URLParam(r, "id"), Name: "sprocket"})
	})
	r.Post("/widgets", func(w http.ResponseWriter, r *http.Request) {
		var in widget
		if err := middleware.DecodeJSON(r, &in); err != nil {
			middleware.WriteError(w, r, err)
			return
		}
		middleware.WriteJSON(w, http.StatusCreated, in)
	})
	r.Get("/secret/{token}", func(w http.ResponseWriter, r *http.Request) {
		middleware.RedactPath(r.Context(), "/secret/[redacted]")
		middleware.WriteJSON(w, http.StatusOK, map[string]string{"ok": "yes"})
	})
	r.Get("/panic", func(w http.ResponseWriter, r *http.Request) {
		panic("secret internal detail")
	})
	r.Get("/fail", func(w http.ResponseWriter, r *http.Request) {
		middleware.WriteError(w, r, errInternal)
	})
	r.Get("/unavailable", func(w http.ResponseWriter, r *http.Request) {
		err := middleware.NewError(http.StatusServiceUnavailable, "jobs_unavailable", "jobs: Redis is unavailable")
		err.Err = errRedisDown
		middleware.WriteError(w, r, err)
	})
	r.Get("/ip", func(w http.ResponseWriter, r *http.Request) {
		ip, _ := middleware.ClientIPFrom(r.Context())
		middleware.WriteJSON(w, http.StatusOK, map[string]string{"client_ip": ip, "remote_addr": r.RemoteAddr})
	})
	return r
}

func (s *testServer) do(t *testing.T, method, path string, body io.Reader, header map[string]string) *http.Response {
	t.Helper()
	req, err := http.NewRequest(method, s.URL+path, body)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := s.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	return resp
}

// assertServing checks the server still answers a normal request.
func (s *testServer) assertServing(t *testing.T) {
	t.Helper()
	resp := s.do(t, http.MethodGet, "/widgets/7", nil, nil)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("server stopped serving: GET /widgets/7 = %d", resp.StatusCode)
	}
}

var uuidRE = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)

// readError asserts resp is a JSON error in the kernel's shape with the
// given status and code, whose request_id is the echoed X-Request-ID.
func readError(t *testing.T, resp *http.Response, status int, code string) middleware.ErrorDetail {
	t.Helper()
	if resp.StatusCode != status {
		t.Fatalf("status = %d, want %d", resp.StatusCode, status)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
		t.Fatalf("Content-Type = %q, want application/json", ct)
	}
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	var body map[string]map[string]string
	if err := json.Unmarshal(raw, &body); err != nil {
		t.Fatalf("error body is not the JSON shape: %q: %v", raw, err)
	}
	if len(body) != 1 || body["error"] == nil || len(body["error"]) != 3 {
		t.Fatalf(`error body %s is not {"error":{"code","message","request_id"}}`, raw)
	}
	d := middleware.ErrorDetail{Code: body["error"]["code"], Message: body["error"]["message"], RequestID: body["error"]["request_id"]}
	if d.Code != code {
		t.Fatalf("code = %q, want %q (body %s)", d.Code, code, raw)
	}
	if d.Message == "" {
		t.Fatalf("empty message in %s", raw)
	}
	if d.RequestID == "" || d.RequestID != resp.Header.Get(middleware.RequestIDHeader) {
		t.Fatalf("request_id %q does not match X-Request-ID %q", d.RequestID, resp.Header.Get(middleware.RequestIDHeader))
	}
	return d
}
