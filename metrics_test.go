package appkernel_test

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/go-chi/chi/v5"

	"appkernel"
	"appkernel/internal/testenv"
	"appkernel/jobs"
	"appkernel/middleware"
)

// metricsKernel serves a kernel with METRICS_ADDR on a free port, a route
// that saves and reads an entity, reads the cache and enqueues a job, and
// a task that saves an entity. It returns the public base URL and the
// /metrics URL.
func metricsKernel(t *testing.T, edit func(*appkernel.Config)) (k *appkernel.Kernel, base, metricsURL string, logs *testenv.Buffer) {
	t.Helper()
	name := uniqueName("obs")
	deleteNamespace(t, name)
	logs = &testenv.Buffer{}
	cfg := workerConfig(t, name, logs)
	cfg.MetricsAddr = "127.0.0.1:0"
	cfg.RateLimitRequests = 1000
	tasks := jobs.NewRegistry()
	tasks.Task("obs_note", func(ctx context.Context, job *jobs.Job) (any, error) {
		_, err := job.Store().SaveEntity(ctx, "notes", map[string]any{"text": "from the job"})
		return nil, err
	})
	cfg.Jobs = tasks
	if edit != nil {
		edit(&cfg)
	}
	k, err := appkernel.New(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { k.Close() })
	r := chi.NewRouter()
	r.Get("/{id}", func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		saved, err := k.DB().SaveEntity(ctx, "things", map[string]any{"name": chi.URLParam(r, "id")})
		if err == nil {
			_, err = k.DB().GetEntity(ctx, "things", saved["id"].(string))
		}
		if err == nil {
			var v string
			_, err = k.Cache().Get(ctx, "thing:"+chi.URLParam(r, "id"), &v)
		}
		if err == nil {
			_, err = k.Jobs().Enqueue(ctx, "obs_note", map[string]any{})
		}
		if err != nil {
			middleware.WriteError(w, r, err)
			return
		}
		middleware.WriteJSON(w, http.StatusOK, saved)
	})
	k.Mount("/things", r)
	base, cancel, served := serveInBackground(t, k)
	t.Cleanup(func() {
		cancel()
		if err := <-served; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	deadline := time.Now().Add(5 * time.Second)
	for appkernel.MetricsAddrOf(k) == "" {
		if time.Now().After(deadline) {
			t.Fatal("the metrics listener did not start")
		}
		time.Sleep(5 * time.Millisecond)
	}
	return k, base, "http://" + appkernel.MetricsAddrOf(k) + "/metrics", logs
}

func get(t *testing.T, method, url string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(b)
}

// With METRICS_ADDR the kernel serves Prometheus text on its own
// listener: requests by route pattern, method and status class (never the
// raw path), store operations by operation and table, the pool, jobs,
// the rate limiter and the cache. The public port has no /metrics.
func TestMetricsOnTheirOwnListener(t *testing.T) {
	_, base, metricsURL, logs := metricsKernel(t, nil)
	for _, id := range []string{"secret-path-a", "secret-path-b"} {
		if code, body := get(t, "GET", base+"/things/"+id); code != 200 {
			t.Fatalf("GET /things/%s: %d %s", id, code, body)
		}
	}
	get(t, "GET", base+"/no-such-route/xyz")
	get(t, "BREW", base+"/things/pot")
	if code, _ := get(t, "GET", base+"/metrics"); code != 404 {
		t.Fatalf("the public port answers /metrics with %d, want 404", code)
	}

	want := []string{
		`appkernel_http_request_duration_seconds_count{method="GET",route="/things/{id}",status="2xx"} 2`,
		`appkernel_http_request_duration_seconds_count{method="GET",route="unmatched",status="4xx"} 2`,   // and /metrics
		`appkernel_http_request_duration_seconds_count{method="OTHER",route="unmatched",status="4xx"} 1`, // chi: an unknown method matches no route
		`appkernel_http_requests_in_flight 0`,
		`appkernel_db_operation_duration_seconds_count{operation="save",table="things"} 2`,
		`appkernel_db_operation_duration_seconds_count{operation="get",table="things"} 2`,
		`go_sql_open_connections{db_name="app"}`,
		`appkernel_ratelimit_requests_total{decision="allowed"}`,
		`appkernel_cache_requests_total{result="miss"} 2`,
		`appkernel_jobs_runs_total{outcome="succeeded",task="obs_note"} 2`,
		`appkernel_jobs_wait_seconds_count{task="obs_note"} 2`,
		`appkernel_jobs_queue_depth{queue="default",state="pending"}`,
		`appkernel_jobs_running{task="obs_note"} 0`,
		`appkernel_db_operation_duration_seconds_count{operation="save",table="notes"} 2`,
		`go_goroutines`,
	}
	var body string
	deadline := time.Now().Add(10 * time.Second)
	for {
		code, b := get(t, "GET", metricsURL)
		if code != 200 {
			t.Fatalf("GET /metrics: %d %s", code, b)
		}
		body = b
		missing := ""
		for _, w := range want {
			if !strings.Contains(body, w) {
				missing = w
				break
			}
		}
		if missing == "" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("/metrics lacks %s:\n%s", missing, grepAppkernel(body))
		}
		time.Sleep(20 * time.Millisecond)
	}
	for _, leak := range []string{"secret-path", "xyz", "BREW", "pot"} {
		if strings.Contains(body, leak) {
			t.Errorf("/metrics has the raw %q:\n%s", leak, grepAppkernel(body))
		}
	}
	if !strings.Contains(logs.String(), "metrics: on (/metrics on 127.0.0.1:0") {
		t.Errorf("no start-up line for metrics:\n%s", logs.String())
	}
}

func grepAppkernel(body string) string {
	var b strings.Builder
	for _, l := range strings.Split(body, "\n") {
		if strings.HasPrefix(l, "appkernel_") && !strings.Contains(l, "_bucket") {
			b.WriteString(l + "\n")
		}
	}
	return b.String()
}

// Without METRICS_ADDR nothing listens and the start-up line says why.
func TestMetricsOffByDefault(t *testing.T) {
	cfg := appkernel.DefaultConfig()
	cfg.DisableDatabase = true
	cfg.DisableDevAutostart = true
	var logs testenv.Buffer
	cfg.Logger = slog.New(slog.NewJSONHandler(&logs, nil))
	k, err := appkernel.New(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer k.Close()
	if k.Metrics() == nil {
		t.Fatal("Metrics() is nil with metrics off; an app registering its collectors would panic")
	}
	if !strings.Contains(logs.String(), "metrics: off (METRICS_ADDR not set)") || !strings.Contains(logs.String(), "tracing: off") {
		t.Fatalf("start-up lines:\n%s", logs.String())
	}
}

// A sign-in refused by the login throttle is counted, by reason.
func TestLoginThrottleIsCounted(t *testing.T) {
	_, base, metricsURL, _ := metricsKernel(t, nil)
	last := 0
	for range 11 {
		res, err := http.Post(base+"/auth/login", "application/json",
			strings.NewReader(`{"email":"nobody@example.com","password":"not-the-password"}`))
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		last = res.StatusCode
	}
	if last != http.StatusTooManyRequests {
		t.Fatalf("the 11th failed login got %d, want 429", last)
	}
	_, body := get(t, "GET", metricsURL)
	if !strings.Contains(body, `appkernel_auth_login_throttled_total{reason="account"} 1`) {
		t.Fatalf("/metrics:\n%s", grepAppkernel(body))
	}
}

// The worker process (RunWorker) serves /metrics on METRICS_ADDR too, with
// its runs counted.
func TestRunWorkerServesMetrics(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	name := uniqueName("obs_worker")
	deleteNamespace(t, name)
	var logs testenv.Buffer
	cfg := workerConfig(t, name, &logs)
	cfg.MetricsAddr = addr
	tasks := jobs.NewRegistry()
	tasks.Task("obs_ping", func(context.Context, *jobs.Job) (any, error) { return "pong", nil })
	cfg.Jobs = tasks
	cfg.DisableEmbeddedWorker = true
	web, err := appkernel.New(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer web.Close()
	info, err := web.Jobs().Enqueue(context.Background(), "obs_ping", nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- appkernel.RunWorker(ctx, cfg) }()
	if st := waitDone(t, web.Jobs(), info.ID, 15*time.Second); st.State != jobs.StateSucceeded {
		t.Fatalf("job: %+v\n%s", st, logs.String())
	}
	var body string
	deadline := time.Now().Add(5 * time.Second)
	for !strings.Contains(body, `appkernel_jobs_runs_total{outcome="succeeded",task="obs_ping"} 1`) {
		if time.Now().After(deadline) {
			t.Fatalf("the worker's /metrics:\n%s", grepAppkernel(body))
		}
		if res, err := http.Get("http://" + addr + "/metrics"); err == nil {
			b, _ := io.ReadAll(res.Body)
			res.Body.Close()
			body = string(b)
		}
		time.Sleep(20 * time.Millisecond)
	}
	stopCleanly(t, "RunWorker", cancel, done)
	if _, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
		t.Fatal("the metrics listener is still open after RunWorker returned")
	}
}
