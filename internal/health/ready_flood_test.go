package health

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"appkernel/internal/testenv"
	"appkernel/middleware"
)

// probe sends one GET /readyz through the request-ID and logger middleware
// (logging into logs) and returns the status and body.
func probe(t *testing.T, h http.Handler, logs *testenv.Buffer) (int, readyBody) {
	t.Helper()
	mw, err := middleware.Logger(middleware.LoggerOptions{Logger: slog.New(slog.NewJSONHandler(logs, nil))})
	if err != nil {
		t.Error(err)
		return 0, readyBody{}
	}
	rec := httptest.NewRecorder()
	middleware.RequestID(mw(h)).ServeHTTP(rec, httptest.NewRequest("GET", "/readyz", nil))
	var body readyBody
	if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
		t.Errorf("body %q: %v", rec.Body, err)
	}
	return rec.Code, body
}

// TestReadyFloodPingsOnce: 50 probes arriving together while the database
// is slow share one round of checks: one ping, not 50; probes within the
// following second are answered from it too.
func TestReadyFloodPingsOnce(t *testing.T) {
	t.Parallel()
	var pings atomic.Int32
	slow := Check{Name: "database", Ping: func(ctx context.Context) error {
		pings.Add(1)
		time.Sleep(100 * time.Millisecond)
		return nil
	}}
	h := Ready([]Check{slow})
	logs := &testenv.Buffer{}
	var wg sync.WaitGroup
	for range 50 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if code, body := probe(t, h, logs); code != http.StatusOK || body.Checks["database"]["status"] != "ok" {
				t.Errorf("probe: %d %+v", code, body)
			}
		}()
	}
	wg.Wait()
	if n := pings.Load(); n != 1 {
		t.Fatalf("50 concurrent probes pinged the database %d times, want 1", n)
	}
	probe(t, h, logs)
	if n := pings.Load(); n != 1 {
		t.Fatalf("a probe right after the round pinged again (%d pings), want the shared result", n)
	}
}

// TestReadyLogsEachChangeOnce: a check that keeps failing is logged once
// (WARN) however many rounds see it fail, once more when it recovers
// (INFO), and again when it fails anew.
func TestReadyLogsEachChangeOnce(t *testing.T) {
	t.Parallel()
	var down atomic.Bool
	var pings atomic.Int32
	db := Check{Name: "database", Ping: func(context.Context) error {
		pings.Add(1)
		if down.Load() {
			return errors.New("connection refused")
		}
		return nil
	}}
	const interval = 10 * time.Millisecond
	h := http.HandlerFunc(newReadiness([]Check{db}, time.Second, interval).serve)
	logs := &testenv.Buffer{}
	rounds := func(n, want int) {
		t.Helper()
		for range n {
			before := pings.Load()
			for pings.Load() == before { // wait out the interval: each probe a new round
				time.Sleep(interval)
				if code, _ := probe(t, h, logs); code != want {
					t.Fatalf("status %d, want %d", code, want)
				}
			}
		}
	}
	count := func(msg string) int { return strings.Count(logs.String(), `"msg":"`+msg+`"`) }

	rounds(3, http.StatusOK)
	if n := count("readiness check failed") + count("readiness check recovered"); n != 0 {
		t.Fatalf("healthy rounds logged %d lines:\n%s", n, logs)
	}
	down.Store(true)
	rounds(20, http.StatusServiceUnavailable)
	if n := count("readiness check failed"); n != 1 {
		t.Fatalf("20 failing rounds logged %d failures, want 1:\n%s", n, logs)
	}
	down.Store(false)
	rounds(5, http.StatusOK)
	if n := count("readiness check recovered"); n != 1 {
		t.Fatalf("recovery logged %d times, want 1:\n%s", n, logs)
	}
	down.Store(true)
	rounds(5, http.StatusServiceUnavailable)
	if n := count("readiness check failed"); n != 2 {
		t.Fatalf("a new outage logged %d failures in all, want 2:\n%s", n, logs)
	}
}
