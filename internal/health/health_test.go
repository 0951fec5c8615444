package health

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"appkernel/internal/testenv"
	"appkernel/middleware"
)

func TestLive(t *testing.T) {
	rec := httptest.NewRecorder()
	Live(rec, httptest.NewRequest("GET", "/healthz", nil))
	if rec.Code != 200 || rec.Body.String() != "{\"status\":\"ok\"}\n" || rec.Header().Get("Content-Type") != "application/json" {
		t.Fatalf("got %d %q %q", rec.Code, rec.Body.String(), rec.Header().Get("Content-Type"))
	}
}

var (
	okCheck = Check{Name: "db", Ping: func(context.Context) error { return nil }}
	hanging = Check{Name: "slow", Ping: func(ctx context.Context) error { <-ctx.Done(); return ctx.Err() }}
)

// readyBody is the /readyz body, 200 or 503.
type readyBody struct {
	Status string
	Error  struct{ Code, Message string }
	Checks map[string]map[string]any
}

// serve runs h behind middleware.Logger (logging into the returned buffer)
// on a GET /readyz whose context has no deadline, and fails t unless the
// response is complete within `within`. It returns the response, its body
// and how long it took.
func serve(t *testing.T, h http.Handler, within time.Duration) (*httptest.ResponseRecorder, readyBody, *testenv.Buffer, time.Duration) {
	t.Helper()
	logs := &testenv.Buffer{}
	mw, err := middleware.Logger(middleware.LoggerOptions{Logger: slog.New(slog.NewJSONHandler(logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	// Cancelled at cleanup only, so that a check left hanging by a failed
	// bound does not outlive the test.
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	req := httptest.NewRequest("GET", "/readyz", nil).WithContext(ctx)
	rec := httptest.NewRecorder()
	done := make(chan struct{})
	start := time.Now()
	go func() {
		defer close(done)
		mw(h).ServeHTTP(rec, req)
	}()
	select {
	case <-done:
	case <-time.After(within):
		t.Fatalf("no response after %s", within)
	}
	took := time.Since(start)
	var body readyBody
	if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
		t.Fatalf("body %q: %v", rec.Body, err)
	}
	return rec, body, logs, took
}

func TestReady(t *testing.T) {
	t.Parallel()
	t.Run("all ok", func(t *testing.T) {
		t.Parallel()
		rec, body, _, _ := serve(t, Ready([]Check{okCheck}), 10*time.Second)
		if rec.Code != 200 || body.Status != "ok" || body.Checks["db"]["status"] != "ok" {
			t.Fatalf("got %d %s", rec.Code, rec.Body)
		}
	})
	t.Run("one failing", func(t *testing.T) {
		t.Parallel()
		const secret = "dial tcp 10.1.2.3:6379: connect: connection refused"
		bad := Check{Name: "redis", Ping: func(context.Context) error { return errors.New(secret) }}
		rec, body, logs, _ := serve(t, Ready([]Check{okCheck, bad}), 10*time.Second)
		if rec.Code != http.StatusServiceUnavailable || body.Error.Code != "not_ready" ||
			body.Error.Message != "not ready: redis failing" || body.Checks["redis"]["status"] != "error" || body.Checks["db"]["status"] != "ok" {
			t.Fatalf("got %d %s", rec.Code, rec.Body)
		}
		// The driver's text stays out of the body anyone can read...
		if strings.Contains(rec.Body.String(), "10.1.2.3") || strings.Contains(rec.Body.String(), "refused") {
			t.Fatalf("503 body shows the check's error: %s", rec.Body)
		}
		if _, ok := body.Checks["redis"]["error"]; ok {
			t.Fatalf("503 body has an error field: %s", rec.Body)
		}
		// ...and goes to the log, at WARN, with the check's name.
		var line map[string]any
		for _, l := range strings.Split(strings.TrimSpace(logs.String()), "\n") {
			var m map[string]any
			if err := json.Unmarshal([]byte(l), &m); err == nil && m["check"] == "redis" {
				line = m
			}
		}
		if line == nil || line["level"] != "WARN" || line["error"] != secret || line["status"] != "error" {
			t.Fatalf("no WARN line for the redis check (got %v) in:\n%s", line, logs)
		}
	})
}

// documentedBound is the bound README promises for each check ("≤ 2 s each").
const documentedBound = 2 * time.Second

func TestMaxCheckTime(t *testing.T) {
	if MaxCheckTime != documentedBound {
		t.Fatalf("MaxCheckTime = %s, want %s", MaxCheckTime, documentedBound)
	}
}

// TestReadyBoundsEachCheck: a check that hangs until its context is done,
// on a request whose context has no deadline, is cut off by the bound of
// its own and reported as "timeout", while the others are reported.
// A failing check the service degrades without (Redis) leaves it ready,
// saying so; beside a failing required one, the answer is 503 naming only
// that one.
func TestReadyDegraded(t *testing.T) {
	t.Parallel()
	bad := Check{Name: "redis", Degrades: true, Ping: func(context.Context) error { return errors.New("refused") }}
	rec, _, _, _ := serve(t, Ready([]Check{okCheck, bad}), 10*time.Second)
	if rec.Code != http.StatusOK || !strings.Contains(rec.Body.String(), `"status":"degraded"`) ||
		!strings.Contains(rec.Body.String(), `"degraded":["redis"]`) {
		t.Fatalf("got %d %s", rec.Code, rec.Body)
	}
	dbDown := Check{Name: "database", Ping: func(context.Context) error { return errors.New("refused") }}
	rec, body, _, _ := serve(t, Ready([]Check{dbDown, bad}), 10*time.Second)
	if rec.Code != http.StatusServiceUnavailable || body.Error.Message != "not ready: database failing" {
		t.Fatalf("got %d %s", rec.Code, rec.Body)
	}
}

func TestReadyBoundsEachCheck(t *testing.T) {
	t.Parallel()
	const limit = 100 * time.Millisecond
	rec, body, logs, took := serve(t, http.HandlerFunc(newReadiness([]Check{okCheck, hanging}, limit, ReadyInterval).serve), limit+2*time.Second)
	if took < limit {
		t.Errorf("answered after %s, before the bound %s", took, limit)
	}
	if rec.Code != http.StatusServiceUnavailable || body.Error.Message != "not ready: slow failing" ||
		body.Checks["slow"]["status"] != "timeout" || body.Checks["db"]["status"] != "ok" {
		t.Fatalf("got %d %s", rec.Code, rec.Body)
	}
	if !strings.Contains(logs.String(), `"check":"slow","status":"timeout","error":"context deadline exceeded"`) {
		t.Fatalf("no WARN line for the slow check in:\n%s", logs)
	}
}

// TestReadyDefaultBound: Ready itself cuts a hanging check off at the
// documented bound, not later.
func TestReadyDefaultBound(t *testing.T) {
	t.Parallel()
	rec, body, _, took := serve(t, Ready([]Check{hanging}), documentedBound+2*time.Second)
	if took < documentedBound {
		t.Errorf("answered after %s, before the bound %s", took, documentedBound)
	}
	if rec.Code != http.StatusServiceUnavailable || body.Error.Message != "not ready: slow failing" || body.Checks["slow"]["status"] != "timeout" {
		t.Fatalf("got %d %s", rec.Code, rec.Body)
	}
}
