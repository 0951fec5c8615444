package appkernel_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/redis/go-redis/v9"

	"appkernel"
	"appkernel/internal/testenv"
	"appkernel/jobs"
)

// mainChildVar makes the test binary run appkernel.Main instead of the
// tests (see TestMain): how TestMainServesUntilSIGTERM gets a service
// process to signal.
const mainChildVar = "APPKERNEL_TEST_MAIN_CHILD"

func TestMain(m *testing.M) {
	if os.Getenv(mainChildVar) == "1" {
		appkernel.Main("main_test_service", func(ctx context.Context, k *appkernel.Kernel, tasks *jobs.Registry) error {
			k.Router().Get("/hello", func(w http.ResponseWriter, r *http.Request) {
				_, _ = io.WriteString(w, "hello from "+k.Config().Name)
			})
			return nil
		})
		os.Exit(0)
	}
	testenv.Main(m) // prints which service tests skipped
}

// sqliteURL is a fresh SQLite database in t's temporary directory.
func sqliteURL(t *testing.T) string {
	return "sqlite:///" + filepath.ToSlash(filepath.Join(t.TempDir(), "app.db"))
}

// A service binary whose main is appkernel.Main reads the environment,
// serves the app's routes on PORT, and on SIGTERM shuts down and exits 0;
// a bad variable makes it exit 1 naming the variable.
func TestMainServesUntilSIGTERM(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("sends SIGTERM")
	}
	port := portOf(t, testenv.ClosedPort(t))
	child := func(env ...string) (*exec.Cmd, *testenv.Buffer) {
		var out testenv.Buffer
		cmd := exec.Command(os.Args[0])
		cmd.Env = append(os.Environ(), mainChildVar+"=1", "DATABASE_URL="+sqliteURL(t), "DEV_AUTOSTART=false", "REDIS_URL=")
		cmd.Env = append(cmd.Env, env...)
		cmd.Stdout, cmd.Stderr = &out, &out
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = cmd.Process.Kill() })
		return cmd, &out
	}
	cmd, out := child("PORT=" + port)
	var body string
	deadline := time.Now().Add(20 * time.Second)
	for body == "" {
		if time.Now().After(deadline) {
			t.Fatalf("no answer on PORT=%s:\n%s", port, out.String())
		}
		if res, err := http.Get("http://127.0.0.1:" + port + "/hello"); err == nil {
			b, _ := io.ReadAll(res.Body)
			res.Body.Close()
			body = string(b)
		} else {
			time.Sleep(50 * time.Millisecond)
		}
	}
	if body != "hello from main_test_service" {
		t.Fatalf("GET /hello: %q", body)
	}
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	select {
	case err := <-exited:
		if err != nil {
			t.Fatalf("exit after SIGTERM: %v\n%s", err, out.String())
		}
	case <-time.After(15 * time.Second):
		t.Fatalf("still running 15 s after SIGTERM:\n%s", out.String())
	}
	if !strings.Contains(out.String(), `"msg":"stopped"`) {
		t.Fatalf("no graceful stop in the output:\n%s", out.String())
	}

	cmd, out = child("PORT=eighty")
	if err := cmd.Wait(); err == nil || cmd.ProcessState.ExitCode() != 1 {
		t.Fatalf("PORT=eighty: %v, want exit status 1", err)
	}
	if msg := out.String(); !strings.HasPrefix(msg, "main_test_service: ") || !strings.Contains(msg, `PORT="eighty"`) {
		t.Fatalf("PORT=eighty: output %q", msg)
	}
}

// workerConfig is a Config for a service named name on a fresh SQLite
// database and the test Redis, logging into logs.
func workerConfig(t *testing.T, name string, logs io.Writer) appkernel.Config {
	cfg := appkernel.DefaultConfig()
	cfg.Name = name
	cfg.DatabaseURL = sqliteURL(t)
	cfg.RedisURL = testenv.RedisURL(t)
	cfg.DisableDevAutostart = true
	cfg.JWTSecret = "run-test-secret-run-test-secret-0123456789"
	cfg.Logger = slog.New(slog.NewJSONHandler(logs, nil))
	return cfg
}

// deleteNamespace deletes the keys of the service name from the test Redis
// when t ends.
func deleteNamespace(t *testing.T, name string) {
	opt, err := redis.ParseURL(testenv.RedisURL(t))
	if err != nil {
		t.Fatal(err)
	}
	rdb := redis.NewClient(opt)
	t.Cleanup(func() {
		ctx := context.Background()
		if keys, _ := rdb.Keys(ctx, name+":*").Result(); len(keys) > 0 {
			rdb.Del(ctx, keys...)
		}
		rdb.Close()
	})
}

func uniqueName(prefix string) string {
	return prefix + "_" + strings.ReplaceAll(uuid.NewString()[:8], "-", "")
}

// waitDone waits for a job to succeed and returns its state.
func waitDone(t *testing.T, c *jobs.Client, id string, within time.Duration) jobs.Info {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		st, err := c.Status(context.Background(), id)
		if err != nil {
			t.Fatal(err)
		}
		if st.State == jobs.StateSucceeded || time.Now().After(deadline) {
			return st
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// Run calls Setup before the embedded worker starts: a job of a task that
// Setup registers, already waiting when the service starts, runs on its
// first fetch, even when Setup takes its time. Run serves the routes Setup
// mounts on Config.Addr and returns nil once ctx is done.
func TestRunCallsSetupBeforeTheWorkerStarts(t *testing.T) {
	name := uniqueName("run_setup")
	deleteNamespace(t, name)
	var logs testenv.Buffer
	cfg := workerConfig(t, name, &logs)
	addr := testenv.ClosedPort(t)
	cfg.Addr = addr
	opt, _ := redis.ParseURL(cfg.RedisURL)
	rdb := redis.NewClient(opt)
	defer rdb.Close()
	waiting, err := jobs.NewClient(rdb, jobs.WithPrefix(name+":")).Enqueue(context.Background(), "greet", nil)
	if err != nil {
		t.Fatal(err)
	}
	var kernel *appkernel.Kernel
	cfg.Setup = func(ctx context.Context, k *appkernel.Kernel, tasks *jobs.Registry) error {
		kernel = k
		time.Sleep(500 * time.Millisecond) // say, indexes being built
		k.Router().Get("/hello", func(w http.ResponseWriter, r *http.Request) { _, _ = io.WriteString(w, "hello") })
		tasks.Task("greet", func(ctx context.Context, job *jobs.Job) (any, error) { return "hi", nil })
		return nil
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- appkernel.Run(ctx, cfg, nil) }()

	var res *http.Response
	for deadline := time.Now().Add(15 * time.Second); ; {
		if res, err = http.Get("http://" + addr + "/hello"); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("Run does not serve on %s: %v\n%s", addr, err, logs.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	res.Body.Close()
	if res.StatusCode != 200 {
		t.Fatalf("GET /hello: %d", res.StatusCode)
	}
	st := waitDone(t, kernel.Jobs(), waiting.ID, 3*time.Second)
	if st.State != jobs.StateSucceeded || st.Attempt != 1 || st.LastError != "" {
		t.Fatalf("the waiting job: %+v\n%s", st, logs.String())
	}
	stopCleanly(t, "Run", cancel, done)
}

// stopCleanly cancels a running Run or RunWorker and checks that it
// returns nil in time.
func stopCleanly(t *testing.T, what string, cancel context.CancelFunc, done <-chan error) {
	t.Helper()
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	case <-time.After(15 * time.Second):
		t.Fatalf("%s did not return after its context was done", what)
	}
}

// Run knows no arguments but "worker".
func TestRunRefusesUnknownArguments(t *testing.T) {
	cfg := appkernel.DefaultConfig()
	cfg.DisableDatabase = true
	for _, args := range [][]string{{"serve"}, {"worker", "extra"}} {
		err := appkernel.Run(context.Background(), cfg, args)
		if !errors.Is(err, appkernel.ErrConfig) || !strings.Contains(err.Error(), "worker") || !strings.Contains(err.Error(), args[len(args)-1]) {
			t.Errorf("Run with %q: %v", args, err)
		}
	}
}

// RunWorker checks Redis and the database before it says it runs: one
// that does not answer within ConnectTimeout refuses the start with the
// message New gives for the same configuration, and nothing says the
// worker runs.
func TestRunWorkerRefusesServicesThatDoNotAnswer(t *testing.T) {
	silent, closed := testenv.SilentServer(t), testenv.ClosedPort(t)
	for name, set := range map[string]func(*appkernel.Config){
		"redis silent":    func(c *appkernel.Config) { c.RedisURL = "redis://:hunter2@" + silent + "/0" },
		"redis refusing":  func(c *appkernel.Config) { c.RedisURL = "redis://:hunter2@" + closed + "/0" },
		"postgres silent": func(c *appkernel.Config) { c.DatabaseURL = "postgres://app:hunter2@" + silent + "/app?sslmode=disable" },
		"mysql refusing":  func(c *appkernel.Config) { c.DatabaseURL = "mysql://app:hunter2@" + closed + "/app" },
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			var logs testenv.Buffer
			cfg := appkernel.DefaultConfig()
			cfg.DatabaseURL = sqliteURL(t)
			cfg.RedisURL = "redis://" + closed + "/0"
			cfg.DisableDevAutostart = true
			cfg.ConnectTimeout = 300 * time.Millisecond
			cfg.Logger = slog.New(slog.NewJSONHandler(&logs, nil))
			cfg.Jobs = jobs.NewRegistry()
			cfg.Jobs.Task("noop", func(context.Context, *jobs.Job) (any, error) { return nil, nil })
			set(&cfg)

			k, newErr := appkernel.New(context.Background(), cfg)
			if newErr == nil {
				k.Close()
				t.Fatal("New started")
			}
			logs.Reset()
			done := make(chan error, 1)
			go func() { done <- appkernel.RunWorker(context.Background(), cfg) }()
			select {
			case err := <-done:
				if err == nil || err.Error() != newErr.Error() {
					t.Fatalf("RunWorker: %v\nwant New's message: %v", err, newErr)
				}
				if strings.Contains(err.Error(), "hunter2") {
					t.Fatalf("the error shows the password: %v", err)
				}
			case <-time.After(5 * time.Second):
				t.Fatal("RunWorker still running 5 s after a ConnectTimeout of 300ms")
			}
			if strings.Contains(logs.String(), "jobs") {
				t.Fatalf("RunWorker logged about jobs before refusing:\n%s", logs.String())
			}
		})
	}
}

// RunWorker runs dev auto-start as New does.
func TestRunWorkerWiresDevAutostart(t *testing.T) {
	if _, err := os.Stat("/bin/sh"); err != nil {
		t.Skip("needs /bin/sh for the stand-in docker")
	}
	calls := fakeDocker(t)
	cfg := appkernel.DefaultConfig()
	cfg.DatabaseURL = "postgres://app:pw@127.0.0.1:" + portOf(t, testenv.ClosedPort(t)) + "/app?sslmode=disable"
	cfg.RedisURL = "redis://127.0.0.1:" + portOf(t, testenv.ClosedPort(t)) + "/0"
	cfg.Logger = slog.New(slog.NewJSONHandler(io.Discard, nil))
	cfg.ConnectTimeout = time.Second
	cfg.Jobs = jobs.NewRegistry()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- appkernel.RunWorker(ctx, cfg) }()
	awaitDockerRun(calls, cancel)
	select {
	case err := <-done:
		if err == nil {
			t.Fatal("RunWorker ran without a database")
		}
	case <-time.After(15 * time.Second):
		t.Fatal("RunWorker did not return")
	}
	if rec := readFile(calls); !strings.Contains(rec, "appkernel-postgres") {
		t.Fatalf("docker was not asked to start appkernel-postgres; calls:\n%s", rec)
	}
}

// A task reaches the database in one line (job.Store()) in a worker
// process started with RunWorker and Config.Jobs, beside a web process
// that runs no jobs (JOBS_WORKER_EMBEDDED=false); its cache and jobs
// client are there too.
func TestRunWorkerTaskReachesTheStore(t *testing.T) {
	name := uniqueName("run_worker")
	deleteNamespace(t, name)
	var webLogs, workerLogs testenv.Buffer
	web := workerConfig(t, name, &webLogs)
	web.DisableEmbeddedWorker = true
	tasks := jobs.NewRegistry()
	tasks.Task("process_document", jobs.Typed(func(ctx context.Context, job *jobs.Job, p struct{ ID string }) (any, error) {
		doc, err := job.Store().GetEntity(ctx, "documents", p.ID)
		if err != nil {
			return nil, err
		}
		doc["status"] = "processed"
		doc["parts"] = fmt.Sprint(job.Cache() != nil, job.Jobs() != nil)
		_, err = job.Store().SaveEntity(ctx, "documents", doc)
		return nil, err
	}))
	web.Jobs = tasks
	k, err := appkernel.New(context.Background(), web)
	if err != nil {
		t.Fatal(err)
	}
	defer k.Close()
	ctx := context.Background()
	doc, err := k.DB().SaveEntity(ctx, "documents", map[string]any{"title": "report", "status": "new"})
	if err != nil {
		t.Fatal(err)
	}
	info, err := k.Jobs().Enqueue(ctx, "process_document", map[string]any{"ID": doc["id"]})
	if err != nil {
		t.Fatal(err)
	}

	worker := web
	worker.Logger = slog.New(slog.NewJSONHandler(&workerLogs, nil))
	wctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- appkernel.RunWorker(wctx, worker) }()
	if st := waitDone(t, k.Jobs(), info.ID, 15*time.Second); st.State != jobs.StateSucceeded {
		t.Fatalf("the job under RunWorker: %+v\n%s", st, workerLogs.String())
	}
	stopCleanly(t, "RunWorker", cancel, done)
	got, err := k.DB().GetEntity(ctx, "documents", doc["id"].(string))
	if err != nil || got["status"] != "processed" || got["parts"] != "true true" {
		t.Fatalf("document after the job: %v %v", got, err)
	}
	if !strings.Contains(workerLogs.String(), "jobs: on (worker process") || !strings.Contains(webLogs.String(), "JOBS_WORKER_EMBEDDED=false") {
		t.Fatalf("start-up lines:\nweb:\n%s\nworker:\n%s", webLogs.String(), workerLogs.String())
	}
}
