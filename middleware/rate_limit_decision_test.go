package middleware_test

import (
	"io"
	"log/slog"
	"slices"
	"sync"
	"testing"

	"appkernel/middleware"
)

// OnDecision is told each counted request's decision: allowed, limited,
// or unchecked when Redis failed and the request went through. Exempt
// requests are not decided on.
func TestRateLimitOnDecision(t *testing.T) {
	var mu sync.Mutex
	var got []string
	record := func(d string) { mu.Lock(); got = append(got, d); mu.Unlock() }

	rdb, prefix := rateLimitRedis(t)
	h, _ := rlLimited(t, middleware.RateLimitOptions{Redis: rdb, Prefix: prefix, Limit: 1, OnDecision: record})
	rlDo(h, "/a", "192.0.2.7:1")
	rlDo(h, "/a", "192.0.2.7:1")
	rlDo(h, "/healthz", "192.0.2.7:1")
	dead, _ := rlLimited(t, middleware.RateLimitOptions{Redis: rlDeadRedis(t), OnDecision: record,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	rlDo(dead, "/a", "192.0.2.8:1")

	mu.Lock()
	defer mu.Unlock()
	if want := []string{"allowed", "limited", "unchecked"}; !slices.Equal(got, want) {
		t.Fatalf("decisions %v, want %v", got, want)
	}
}
