package health

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

func TestLive(t *testing.T) {
	rec := httptest.NewRecorder()
	Live(rec, httptest.NewRequest("GET", "/healthz", nil))
	if rec.Code != 200 || rec.Body.String() != "{\"status\":\"ok\"}\n" || rec.Header().Get("Content-Type") != "application/json" {
		t.Fatalf("got %d %q %q", rec.Code, rec.Body.String(), rec.Header().Get("Content-Type"))
	}
}

func TestReady(t *testing.T) {
	ok := Check{Name: "db", Ping: func(context.Context) error { return nil }}
	bad := Check{Name: "redis", Ping: func(context.Context) error { return errors.New("connection refused") }}
	slow := Check{Name: "slow", Ping: func(ctx context.Context) error { <-ctx.Done(); return ctx.Err() }}

	t.Run("all ok", func(t *testing.T) {
		rec := httptest.NewRecorder()
		Ready([]Check{ok})(rec, httptest.NewRequest("GET", "/readyz", nil))
		var body struct {
			Status string
			Checks map[string]CheckResult
		}
		_ = json.Unmarshal(rec.Body.Bytes(), &body)
		if rec.Code != 200 || body.Status != "ok" || body.Checks["db"].Status != "ok" {
			t.Fatalf("got %d %s", rec.Code, rec.Body)
		}
	})
	t.Run("one failing", func(t *testing.T) {
		rec := httptest.NewRecorder()
		Ready([]Check{ok, bad})(rec, httptest.NewRequest("GET", "/readyz", nil))
		var body struct {
			Error  struct{ Code, Message string }
			Checks map[string]CheckResult
		}
		_ = json.Unmarshal(rec.Body.Bytes(), &body)
		if rec.Code != http.StatusServiceUnavailable || body.Error.Code != "not_ready" ||
			body.Error.Message != "not ready: redis failing" || body.Checks["redis"].Error != "connection refused" || body.Checks["db"].Status != "ok" {
			t.Fatalf("got %d %s", rec.Code, rec.Body)
		}
	})
	t.Run("hanging check is bounded", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		defer cancel()
		rec := httptest.NewRecorder()
		start := time.Now()
		Ready([]Check{slow})(rec, httptest.NewRequest("GET", "/readyz", nil).WithContext(ctx))
		if rec.Code != http.StatusServiceUnavailable || time.Since(start) > MaxCheckTime+time.Second {
			t.Fatalf("got %d after %s", rec.Code, time.Since(start))
		}
	})
}
