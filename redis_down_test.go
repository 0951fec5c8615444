package appkernel_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/redis/go-redis/v9"

	"appkernel"
	"appkernel/internal/testenv"
	"appkernel/kerneltest"
	"appkernel/middleware"
)

// redisDownApp mounts what an app does: a database-only route, an enqueue
// and a Redis cache write.
func redisDownApp(k *appkernel.Kernel) {
	r := chi.NewRouter()
	r.Get("/items", func(w http.ResponseWriter, r *http.Request) {
		n, err := k.DB().CountEntities(r.Context(), "items", "")
		if err != nil {
			middleware.WriteError(w, r, err)
			return
		}
		middleware.WriteJSON(w, http.StatusOK, map[string]any{"count": n})
	})
	r.Post("/enqueue", func(w http.ResponseWriter, r *http.Request) {
		info, err := k.Jobs().Enqueue(r.Context(), "noop", nil)
		if err != nil {
			middleware.WriteError(w, r, err)
			return
		}
		middleware.WriteJSON(w, http.StatusAccepted, map[string]any{"job_id": info.ID})
	})
	r.Post("/cache", func(w http.ResponseWriter, r *http.Request) {
		if err := k.Cache().Set(r.Context(), "k", "v", time.Minute); err != nil {
			middleware.WriteError(w, r, err)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
	k.Mount("/app", r)
}

// TestRedisDownIsDegradedNotBroken kills the kernel's Redis mid-run: what
// does not need Redis keeps answering, quickly; what does answers 503 in
// the error shape; when Redis is back the kernel uses it again.
func TestRedisDownIsDegradedNotBroken(t *testing.T) {
	srv := testenv.StartRedis(t)
	tk := kerneltest.New(t, &kerneltest.Options{
		Config: func(c *appkernel.Config) {
			c.RedisURL = srv.URL()
			c.RateLimitRequests = 1000
		},
		Mount: redisDownApp,
	})
	alice := tk.User(t, "alice@example.com")
	anon := tk.Client()

	res := alice.Get(t, "/app/items").Expect(t, http.StatusOK)
	if res.Header.Get("RateLimit-Remaining") == "" {
		t.Fatalf("rate limiting is not on with Redis: %v", res.Header)
	}
	alice.Post(t, "/app/enqueue", nil).Expect(t, http.StatusAccepted)

	srv.Kill()

	// timed sends a request and fails t when a dead Redis made it wait.
	timed := func(c *kerneltest.Client, method, path string, body any) *kerneltest.Response {
		t.Helper()
		start := time.Now()
		res := c.Do(t, method, path, body)
		if d := time.Since(start); d > 500*time.Millisecond {
			t.Errorf("%s %s took %s with Redis down; a dead Redis must cost a request at most a short delay", method, path, d)
		}
		return res
	}
	for i := 0; i < 20; i++ {
		res := timed(alice, "GET", "/app/items", nil).Expect(t, http.StatusOK)
		if res.Header.Get("RateLimit-Remaining") != "" {
			t.Fatalf("request %d was rate limited with Redis down: %v", i, res.Header)
		}
	}
	timed(anon, "GET", "/healthz", nil).Expect(t, http.StatusOK)
	// Still ready (a load balancer keeps sending what does not need
	// Redis), saying what is degraded.
	ready := timed(anon, "GET", "/readyz", nil).Expect(t, http.StatusOK)
	if !strings.Contains(string(ready.Body), `"degraded":["redis"]`) {
		t.Errorf("/readyz with Redis down does not say it is degraded: %s", ready.Body)
	}
	res = timed(alice, "POST", "/app/enqueue", nil).Expect(t, http.StatusServiceUnavailable)
	if code := res.ErrorCode(t); code != "jobs_unavailable" {
		t.Errorf("enqueue with Redis down: code %q, want jobs_unavailable", code)
	}
	res = timed(alice, "POST", "/app/cache", nil).Expect(t, http.StatusServiceUnavailable)
	if code := res.ErrorCode(t); code != "cache_unavailable" {
		t.Errorf("cache write with Redis down: code %q, want cache_unavailable", code)
	}
	refresh := timed(anon, "POST", "/auth/refresh", map[string]any{"refresh_token": alice.RefreshToken})
	if refresh.Status != http.StatusOK {
		t.Errorf("refresh with Redis down: %d %s", refresh.Status, refresh.Body)
	}
	// The login throttle falls back to an in-process limiter without Redis.
	login := timed(anon, "POST", "/auth/login", map[string]any{"email": "alice@example.com", "password": kerneltest.Password})
	if login.Status != http.StatusOK {
		t.Errorf("login with Redis down: %d %s", login.Status, login.Body)
	}

	// The log says it once, and the refusal is a WARN, not an ERROR.
	logs := tk.Logs.String()
	if n := strings.Count(logs, "redis: unreachable"); n != 1 {
		t.Errorf("%d 'redis: unreachable' lines, want 1", n)
	}
	for _, l := range strings.Split(strings.TrimSpace(logs), "\n") {
		var line map[string]any
		if err := json.Unmarshal([]byte(l), &line); err != nil {
			t.Fatalf("not a JSON line: %q", l)
		}
		if line["path"] == "/app/enqueue" && line["status"] == float64(503) && line["level"] != "WARN" {
			t.Errorf("the 503 jobs_unavailable is logged at %v, want WARN: %s", line["level"], l)
		}
	}

	srv.Restart()
	deadline := time.Now().Add(10 * time.Second)
	for alice.Post(t, "/app/enqueue", nil).Status != http.StatusAccepted {
		if time.Now().After(deadline) {
			t.Fatal("enqueue still fails 10s after Redis came back")
		}
		time.Sleep(50 * time.Millisecond)
	}
	alice.Post(t, "/app/cache", nil).Expect(t, http.StatusNoContent)
	// /readyz shares one result per second among its probes, so the
	// answer from before the restart may stand for up to a second more.
	for ready := time.Now().Add(3 * time.Second); !strings.Contains(string(anon.Get(t, "/readyz").Expect(t, http.StatusOK).Body), `"status":"ok"`); {
		if time.Now().After(ready) {
			t.Fatal("/readyz still degraded 3s after Redis answered again")
		}
		time.Sleep(100 * time.Millisecond)
	}
	// Rate limiting counts again: the limiter asks Redis again once its
	// outage backoff (1 s after the last failure it saw) has passed, and the
	// restarted Redis is empty, so the budget starts afresh: an answer from
	// it (the headers come only from Redis) has spent some of the 1000.
	for limited := time.Now().Add(3 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		remaining := alice.Get(t, "/app/items").Expect(t, http.StatusOK).Header.Get("RateLimit-Remaining")
		if n, err := strconv.Atoi(remaining); err == nil {
			if n >= 1000 {
				t.Errorf("RateLimit-Remaining %d after Redis came back, want under the limit of 1000", n)
			}
			break
		}
		if time.Now().After(limited) {
			t.Fatal("rate limiting does not count 3s after Redis came back")
		}
	}
}

// go-redis's own messages (its pool's dial failures) are JSON lines of the
// kernel's logger, not "redis: 2026/12/06 … pool.go:770: …" on stderr.
func TestGoRedisMessagesGoThroughTheKernelLogger(t *testing.T) {
	srv := testenv.StartRedis(t)
	tk := kerneltest.New(t, &kerneltest.Options{Config: func(c *appkernel.Config) { c.RedisURL = srv.URL() }})
	// Any go-redis client of the process: its pool logs a failed dial.
	rdb := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", MaxRetries: -1, DialerRetries: 1})
	defer rdb.Close()
	_ = rdb.Ping(context.Background()).Err()

	found := false
	for _, l := range strings.Split(strings.TrimSpace(tk.Logs.String()), "\n") {
		var line map[string]any
		if err := json.Unmarshal([]byte(l), &line); err != nil {
			t.Fatalf("not a JSON line: %q", l)
		}
		if msg, _ := line["msg"].(string); strings.HasPrefix(msg, "go-redis: ") && strings.Contains(msg, "127.0.0.1:1") {
			found = true
			if line["level"] != "WARN" {
				t.Errorf("go-redis message at %v, want WARN: %s", line["level"], l)
			}
		}
	}
	if !found {
		t.Fatalf("go-redis's dial failure is not in the kernel's log:\n%s", tk.Logs.String())
	}
}
