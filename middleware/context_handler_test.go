package middleware_test

import (
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"appkernel/middleware"
)

// TestContextHandler: with the kernel's logger wrapped, a line logged with
// the request context carries request_id exactly once — from plain
// logger.InfoContext, from LoggerFrom, and on the access line.
func TestContextHandler(t *testing.T) {
	t.Parallel()
	logs := &logCapture{}
	logger := slog.New(middleware.NewContextHandler(slog.NewJSONHandler(logs, nil)))
	mw, err := middleware.Logger(middleware.LoggerOptions{Logger: logger})
	if err != nil {
		t.Fatal(err)
	}
	h := middleware.RequestID(mw(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		logger.InfoContext(r.Context(), "plain")
		logger.With("component", "auth").InfoContext(r.Context(), "with attrs")
		middleware.LoggerFrom(r.Context()).InfoContext(r.Context(), "from LoggerFrom")
		logger.Info("no context")
	})))
	req := httptest.NewRequest(http.MethodGet, "/", nil)
	req.Header.Set("X-Request-ID", "req-7")
	h.ServeHTTP(httptest.NewRecorder(), req)

	raw := logs.String()
	lines := logs.lines(t)
	if len(lines) != 5 {
		t.Fatalf("want 5 lines, got %s", raw)
	}
	for _, l := range lines {
		want := "req-7"
		if l["msg"] == "no context" {
			want = ""
		}
		got, _ := l["request_id"].(string)
		if got != want {
			t.Errorf("%v: request_id %q, want %q", l["msg"], got, want)
		}
	}
	// Duplicate keys would still decode into one map entry: count them in the text.
	if n := strings.Count(raw, `"request_id"`); n != 4 {
		t.Errorf("request_id appears %d times in %s, want once in each of 4 lines", n, raw)
	}
}
