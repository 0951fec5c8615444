package auth

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"appkernel/internal/testenv"
)

// TestLoginThrottleSurvivesRedisOutage kills the throttle's Redis: logins
// and refreshes keep working, failures are throttled in process with one
// WARN per interval (not per request), and once Redis is back (restarted
// on the same port, no restart of the service) the throttle counts in
// Redis again and no longer consults the in-process windows.
func TestLoginThrottleSurvivesRedisOutage(t *testing.T) {
	t.Parallel()
	srv := testenv.StartRedis(t)
	opt, err := redis.ParseURL(srv.URL())
	if err != nil {
		t.Fatal(err)
	}
	rdb := redis.NewClient(opt)
	t.Cleanup(func() { _ = rdb.Close() })
	h := newHarness(t, "sqlite", withSignup, withConfig(func(c *Config) { c.Redis, c.RedisPrefix = rdb, "outage:" }))
	ft := h.auth.throttle.(*fallbackThrottler)
	ft.backoff, ft.warnEvery = 50*time.Millisecond, time.Hour
	ctx := context.Background()

	const email, password = "owner@example.com", "owner-password"
	h.register(email, password)
	login := func(pw, ip string) resp {
		return h.do("POST", "/auth/login", map[string]string{"email": email, "password": pw}, "X-Test-IP", ip)
	}
	if r := login("guess", "10.0.0.1"); r.status != http.StatusUnauthorized {
		t.Fatalf("failure with Redis up: %d %s", r.status, r.body)
	}
	if n, err := rdb.Exists(ctx, "outage:login:{"+accountKey(email)+"}").Result(); err != nil || n != 1 {
		t.Fatalf("with Redis up the failure is not in Redis: %d %v", n, err)
	}

	srv.Kill()
	// 30 failures over several backoff periods (Redis is tried again after
	// each): the in-process throttle refuses the 11th from one address.
	for i := range 30 {
		if i%5 == 4 {
			time.Sleep(60 * time.Millisecond)
		}
		want := http.StatusUnauthorized
		if i >= accountIPFailures {
			want = http.StatusTooManyRequests
		}
		if r := login("guess", "10.0.0.2"); r.status != want {
			t.Fatalf("failure %d with Redis down: %d %s, want %d", i+1, r.status, r.body, want)
		}
	}
	s := h.login(email, password)
	if r := h.refresh(s.RefreshToken); r.status != http.StatusOK {
		t.Fatalf("refresh with Redis down: %d %s", r.status, r.body)
	}
	if n := strings.Count(h.logs.String(), "login throttle: Redis failed"); n != 1 {
		t.Fatalf("%d warnings with Redis down, want 1 per interval:\n%s", n, h.logs)
	}

	srv.Restart()
	// go-redis redials a refused pool in the background about once a
	// second; then the throttle's backoff passes.
	deadline := time.Now().Add(10 * time.Second)
	for rdb.Ping(ctx).Err() != nil {
		if time.Now().After(deadline) {
			t.Fatal("the client does not reach the restarted Redis within 10s")
		}
		time.Sleep(50 * time.Millisecond)
	}
	time.Sleep(100 * time.Millisecond)
	// The address throttled in process during the outage is counted in
	// Redis again, from scratch: the in-process windows are not consulted.
	for i := range 3 {
		if r := login("guess", "10.0.0.2"); r.status != http.StatusUnauthorized {
			t.Fatalf("failure %d after Redis returned: %d %s, want 401 (counted in Redis, not in process)", i+1, r.status, r.body)
		}
	}
	card, err := rdb.ZCard(ctx, "outage:login:{"+accountKey(email)+"}:ip:10.0.0.2").Result()
	if err != nil || card != 3 {
		t.Fatalf("after Redis returned it holds %d failures of the address (%v), want 3", card, err)
	}
	if !strings.Contains(h.logs.String(), "login throttle: Redis answers again") {
		t.Fatalf("no line says Redis answers again:\n%s", h.logs)
	}
	h.login(email, password)
}
