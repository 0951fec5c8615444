package appkernel_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"appkernel"
	"appkernel/internal/testenv"
	"appkernel/jobs"
	"appkernel/kerneltest"

	"github.com/google/uuid"
)

func TestHealthAndReady(t *testing.T) {
	tk := kerneltest.New(t, nil)
	c := tk.Client()
	res := c.Get(t, "/healthz").Expect(t, 200)
	if string(res.Body) != "{\"status\":\"ok\"}\n" {
		t.Fatalf("healthz body %q", res.Body)
	}
	var ready struct {
		Status string
		Checks map[string]struct{ Status string }
	}
	c.Get(t, "/readyz").Expect(t, 200).JSON(t, &ready)
	if ready.Status != "ok" || ready.Checks["database"].Status != "ok" {
		t.Fatalf("readyz: %+v", ready)
	}
	if strings.Contains(tk.Logs.String(), `"path":"/healthz"`) || strings.Contains(tk.Logs.String(), `"path":"/readyz"`) {
		t.Fatalf("health checks were logged at INFO:\n%s", tk.Logs)
	}

	// A closed database makes /readyz answer 503 naming it, once the
	// round of checks above has aged out (a second); /healthz stays 200.
	if err := tk.DB().Close(); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		if res = c.Get(t, "/readyz"); res.Status != http.StatusOK || time.Now().After(deadline) {
			break
		}
	}
	res.Expect(t, http.StatusServiceUnavailable)
	if code := res.ErrorCode(t); code != "not_ready" || !strings.Contains(string(res.Body), "database") {
		t.Fatalf("readyz with a closed database: %s", res.Body)
	}
	c.Get(t, "/healthz").Expect(t, 200)
}

func TestUnknownRouteAndWrongMethodUseTheErrorShape(t *testing.T) {
	tk := kerneltest.New(t, nil)
	c := tk.Client()
	if code := c.Get(t, "/no/such/route").Expect(t, 404).ErrorCode(t); code != "not_found" {
		t.Fatalf("code %q", code)
	}
	res := c.Post(t, "/healthz", nil).Expect(t, 405)
	if code := res.ErrorCode(t); code != "method_not_allowed" {
		t.Fatalf("code %q", code)
	}
	if !strings.Contains(res.Header.Get("Allow"), "GET") {
		t.Fatalf("405 without Allow: %v", res.Header)
	}
}

func TestStartupSaysWhatIsOnAndOff(t *testing.T) {
	tk := kerneltest.New(t, nil)
	logs := tk.Logs.String()
	for _, want := range []string{
		"database: on (sqlite",
		"redis: off (REDIS_URL not set)",
		"auth: on (self-signup invite only)",
		"workspaces: on",
		"jobs: off (REDIS_URL not set)",
		"rate limiting: off (REDIS_URL not set)",
		"cache: memory (REDIS_URL not set)",
	} {
		if !strings.Contains(logs, want) {
			t.Errorf("start-up logs lack %q:\n%s", want, logs)
		}
	}
	if _, err := tk.Jobs().Enqueue(context.Background(), "x", nil); !errors.Is(err, jobs.ErrNoBackend) {
		t.Fatalf("Enqueue without Redis: %v, want jobs.ErrNoBackend", err)
	}
	if tk.Redis() != nil {
		t.Fatal("Redis() is not nil without REDIS_URL")
	}
}

func TestNewRefusesBadConfig(t *testing.T) {
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	closed := testenv.ClosedPort(t)
	cases := map[string]struct {
		mutate func(*appkernel.Config)
		want   string
	}{
		"unknown scheme": {func(c *appkernel.Config) { c.DatabaseURL = "oracle://u:pw@h/x" }, "DATABASE_URL"},
		"production default secret": {func(c *appkernel.Config) {
			c.Env = "production"
			c.JWTSecret = appkernel.DefaultJWTSecret
		}, "JWT_SECRET"},
		"redis not answering":         {func(c *appkernel.Config) { c.RedisURL = "redis://:hunter2@" + closed + "/0" }, "Redis (REDIS_URL) at redis://:xxxxx@" + closed},
		"credentials with any origin": {func(c *appkernel.Config) { c.CORSCredentials = true }, "CORS_ORIGINS"},
		"bad trusted proxy":           {func(c *appkernel.Config) { c.TrustedProxies = []string{"not-an-ip"} }, "not-an-ip"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			cfg := appkernel.DefaultConfig()
			cfg.DatabaseURL = "sqlite:///" + t.TempDir() + "/app.db"
			cfg.DisableDevAutostart = true
			cfg.Logger = quiet
			tc.mutate(&cfg)
			k, err := appkernel.New(context.Background(), cfg)
			if err == nil {
				k.Close()
				t.Fatal("New accepted a bad config")
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %q does not mention %q", err, tc.want)
			}
			if strings.Contains(err.Error(), "hunter2") {
				t.Fatalf("error leaks the password: %v", err)
			}
		})
	}
}

func TestGracefulShutdownFinishesInFlightRequests(t *testing.T) {
	cfg := appkernel.DefaultConfig()
	cfg.DisableDatabase = true
	cfg.DisableDevAutostart = true
	cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	k, err := appkernel.New(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer k.Close()
	started := make(chan struct{})
	k.Router().Get("/slow", func(w http.ResponseWriter, r *http.Request) {
		close(started)
		time.Sleep(300 * time.Millisecond)
		_, _ = io.WriteString(w, "done")
	})
	base, cancel, served := serveInBackground(t, k)
	got := getInBackground(base + "/slow")
	<-started
	cancel() // SIGTERM arrives while /slow runs
	if res := <-got; res.err != nil || res.body != "done" {
		t.Fatalf("in-flight request got %q, %v; want done", res.body, res.err)
	}
	select {
	case err := <-served:
		if err != nil {
			t.Fatalf("Serve: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Serve did not return after shutdown")
	}
	if _, err := net.DialTimeout("tcp", strings.TrimPrefix(base, "http://"), time.Second); err == nil {
		t.Fatal("still accepting connections after shutdown")
	}
}

func TestWithRedis(t *testing.T) {
	// A database of this package's own: every kerneltest kernel has the
	// namespace "kerneltest", which another package's kernel test may be
	// serving right now.
	url := testenv.RedisURLOnDB(t, testenv.RedisDBKernel)
	// The payload is this run's own: an echo job an earlier run left
	// behind (its test ended first) is run but not reported, so done
	// sees this run's job only and the handler never blocks on it.
	payload := map[string]string{"hello": "world", "run": uuid.NewString()}
	want, _ := json.Marshal(payload)
	reg := jobs.NewRegistry()
	done := make(chan string, 1)
	reg.Task("kernel_test_echo", func(ctx context.Context, job *jobs.Job) (any, error) {
		var p struct{ Run string }
		if json.Unmarshal(job.Payload, &p) == nil && p.Run != payload["run"] {
			return "ok", nil
		}
		done <- string(job.Payload)
		return "ok", nil
	})
	tk := kerneltest.New(t, &kerneltest.Options{Config: func(c *appkernel.Config) {
		c.RedisURL = url
		c.Jobs = reg
		c.RateLimitRequests = 1000
	}})
	logs := tk.Logs.String()
	for _, want := range []string{"redis: on", "rate limiting: on (1000 per 1m0s)", "jobs: on (embedded worker", "cache: redis"} {
		if !strings.Contains(logs, want) {
			t.Errorf("start-up logs lack %q:\n%s", want, logs)
		}
	}
	var ready struct {
		Checks map[string]struct{ Status string }
	}
	tk.Client().Get(t, "/readyz").Expect(t, 200).JSON(t, &ready)
	if ready.Checks["redis"].Status != "ok" {
		t.Fatalf("readyz lacks redis: %+v", ready)
	}
	res := tk.Client().Get(t, "/widgets-nope")
	if res.Header.Get("RateLimit-Limit") == "" {
		t.Fatalf("no RateLimit headers with Redis: %v", res.Header)
	}
	if _, err := tk.Jobs().Enqueue(context.Background(), "kernel_test_echo", payload); err != nil {
		t.Fatal(err)
	}
	select {
	case p := <-done:
		if p != string(want) {
			t.Fatalf("payload %s, want %s", p, want)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the embedded worker did not run the job")
	}
}
