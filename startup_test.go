package appkernel_test

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"appkernel"
	"appkernel/internal/testenv"
	"appkernel/kerneltest"
)

// A database or Redis that accepts connections but never answers refuses
// the start within Config.ConnectTimeout, naming what did not answer.
func TestNewGivesUpOnServicesThatDoNotAnswer(t *testing.T) {
	addr := testenv.SilentServer(t)
	for name, set := range map[string]func(*appkernel.Config){
		"postgres": func(c *appkernel.Config) { c.DatabaseURL = "postgres://app:hunter2@" + addr + "/app?sslmode=disable" },
		"mysql":    func(c *appkernel.Config) { c.DatabaseURL = "mysql://app:hunter2@" + addr + "/app" },
		"redis":    func(c *appkernel.Config) { c.DisableDatabase = true; c.RedisURL = "redis://:hunter2@" + addr + "/0" },
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			cfg := appkernel.DefaultConfig()
			cfg.DisableDevAutostart = true
			cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
			cfg.ConnectTimeout = 300 * time.Millisecond
			set(&cfg)
			done := make(chan error, 1)
			start := time.Now()
			go func() {
				k, err := appkernel.New(context.Background(), cfg)
				if err == nil {
					k.Close()
				}
				done <- err
			}()
			select {
			case err := <-done:
				if err == nil {
					t.Fatal("New started on a service that never answers")
				}
				variable := map[string]string{"postgres": "DATABASE_URL", "mysql": "DATABASE_URL", "redis": "REDIS_URL"}[name]
				if msg := err.Error(); !strings.Contains(msg, "does not answer") || !strings.Contains(msg, variable) || strings.Contains(msg, "hunter2") {
					t.Fatalf("error %q: want it to say %s does not answer, without the password", err, variable)
				}
				t.Logf("refused after %v: %v", time.Since(start).Round(time.Millisecond), err)
			case <-time.After(5 * time.Second):
				t.Fatal("New still waiting after 5 s with ConnectTimeout 300ms")
			}
		})
	}
}

// The kernel logs a WARN when it signs tokens with a weak secret, and none
// with a strong one.
func TestWeakJWTSecretWarns(t *testing.T) {
	for _, tc := range []struct {
		secret string
		warn   bool
	}{
		{"", true},
		{appkernel.DefaultJWTSecret, true},
		{"short-secret", true},
		{"a-random-secret-of-at-least-32-bytes!", false},
	} {
		var logs kerneltest.LogBuffer
		cfg := appkernel.DefaultConfig()
		cfg.DatabaseURL = "sqlite:///" + filepath.ToSlash(filepath.Join(t.TempDir(), "app.db"))
		cfg.DisableDevAutostart = true
		cfg.JWTSecret = tc.secret
		cfg.Logger = slog.New(slog.NewJSONHandler(&logs, nil))
		k, err := appkernel.New(context.Background(), cfg)
		if err != nil {
			t.Fatal(err)
		}
		k.Close()
		warned := strings.Contains(logs.String(), `"level":"WARN","msg":"JWT_SECRET`)
		if warned != tc.warn {
			t.Errorf("secret %q: warned %v, want %v; logs:\n%s", tc.secret, warned, tc.warn, logs.String())
		}
	}
}

// An app's own Config.Logger gets the request_id of lines logged with a
// request's context, as the default logger does.
func TestAppLoggerGetsRequestID(t *testing.T) {
	var logs kerneltest.LogBuffer
	cfg := appkernel.DefaultConfig()
	cfg.DisableDatabase = true
	cfg.DisableDevAutostart = true
	cfg.Logger = slog.New(slog.NewJSONHandler(&logs, nil))
	k, err := appkernel.New(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer k.Close()
	k.Router().Get("/hello", func(w http.ResponseWriter, r *http.Request) {
		k.Logger().InfoContext(r.Context(), "app line")
	})
	req := httptest.NewRequest("GET", "/hello", nil)
	req.Header.Set("X-Request-ID", "req-12345")
	k.ServeHTTP(httptest.NewRecorder(), req)
	for _, line := range strings.Split(logs.String(), "\n") {
		if strings.Contains(line, `"msg":"app line"`) {
			if !strings.Contains(line, `"request_id":"req-12345"`) {
				t.Fatalf("app line without the request id: %s", line)
			}
			return
		}
	}
	t.Fatalf("no app line in:\n%s", logs.String())
}

// Close closes the pools: the database and Redis refuse work afterwards.
func TestCloseClosesThePools(t *testing.T) {
	cfg := appkernel.DefaultConfig()
	cfg.DatabaseURL = "sqlite:///" + filepath.ToSlash(filepath.Join(t.TempDir(), "app.db"))
	cfg.DisableDevAutostart = true
	cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	if os.Getenv(testenv.RedisVar) != "" {
		cfg.RedisURL = testenv.RedisURLOnDB(t, testenv.RedisDBKernel)
	}
	k, err := appkernel.New(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := k.DB().Ping(ctx); err != nil {
		t.Fatalf("database before Close: %v", err)
	}
	if err := k.Close(); err != nil {
		t.Fatal(err)
	}
	if err := k.DB().Ping(ctx); err == nil {
		t.Error("the database still answers after Close")
	}
	if k.Redis() != nil {
		if err := k.Redis().Ping(ctx).Err(); err == nil {
			t.Error("Redis still answers after Close")
		}
	}
	if err := k.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}

// A request still running when ShutdownTimeout ends does not hold the
// process: Serve closes its connection and returns.
func TestShutdownIsBoundedByShutdownTimeout(t *testing.T) {
	cfg := appkernel.DefaultConfig()
	cfg.DisableDatabase = true
	cfg.DisableDevAutostart = true
	cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	cfg.ShutdownTimeout = 300 * time.Millisecond
	k, err := appkernel.New(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer k.Close()
	started, release := make(chan struct{}), make(chan struct{})
	defer close(release)
	k.Router().Get("/stuck", func(w http.ResponseWriter, r *http.Request) {
		close(started)
		<-release // ignores its context, as badly written handlers do
	})
	base, cancel, served := serveInBackground(t, k)
	got := getInBackground(base + "/stuck")
	<-started
	begin := time.Now()
	cancel()
	select {
	case err := <-served:
		if err == nil {
			t.Error("Serve returned nil although a request was cut off")
		}
		if d := time.Since(begin); d < cfg.ShutdownTimeout {
			t.Errorf("Serve returned after %v, before ShutdownTimeout", d)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Serve still waiting 5 s after shutdown began, with ShutdownTimeout 300ms")
	}
	select {
	case res := <-got:
		if res.err == nil {
			t.Error("the stuck request got a complete response")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the stuck request's connection was not closed")
	}
}

// fakeDocker puts a docker on PATH that answers `docker info` and records
// every call in the returned file.
func fakeDocker(t *testing.T) (calls string) {
	dir := t.TempDir()
	calls = filepath.Join(dir, "calls")
	script := "#!/bin/sh\necho \"$@\" >> '" + calls + "'\nexit 0\n"
	if err := os.WriteFile(filepath.Join(dir, "docker"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", dir+string(os.PathListSeparator)+os.Getenv("PATH"))
	return calls
}

// New runs dev auto-start for a localhost database that does not answer,
// and DEV_AUTOSTART=false and APP_ENV=production keep it from docker.
func TestNewWiresDevAutostart(t *testing.T) {
	if _, err := os.Stat("/bin/sh"); err != nil {
		t.Skip("needs /bin/sh for the stand-in docker")
	}
	for _, tc := range []struct {
		name   string
		set    func(*appkernel.Config)
		docker bool
		line   string
	}{
		{"on", func(c *appkernel.Config) {}, true, "dev auto-start: on"},
		{"DEV_AUTOSTART=false", func(c *appkernel.Config) { c.DisableDevAutostart = true }, false, "dev auto-start: off (DEV_AUTOSTART=false)"},
		{"APP_ENV=production", func(c *appkernel.Config) {
			c.Env = "production"
			c.JWTSecret = "a-random-secret-of-at-least-32-bytes!"
		}, false, "dev auto-start: off (APP_ENV=production)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			calls := fakeDocker(t)
			var logs kerneltest.LogBuffer
			cfg := appkernel.DefaultConfig()
			cfg.DatabaseURL = "postgres://app:pw@127.0.0.1:" + portOf(t, testenv.ClosedPort(t)) + "/app?sslmode=disable"
			cfg.Logger = slog.New(slog.NewJSONHandler(&logs, nil))
			cfg.ConnectTimeout = time.Second
			tc.set(&cfg)
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			done := make(chan error, 1)
			go func() {
				k, err := appkernel.New(ctx, cfg)
				if err == nil {
					k.Close()
				}
				done <- err
			}()
			if tc.docker {
				awaitDockerRun(calls, cancel)
			}
			select {
			case err := <-done:
				if err == nil {
					t.Fatal("New started without a database")
				}
			case <-time.After(15 * time.Second):
				t.Fatal("New did not return")
			}
			rec := readFile(calls)
			if ran := strings.Contains(rec, "run ") && strings.Contains(rec, "appkernel-postgres"); ran != tc.docker {
				t.Errorf("docker asked to run appkernel-postgres: %v, want %v; calls:\n%s", ran, tc.docker, rec)
			}
			if !tc.docker && rec != "" {
				t.Errorf("docker was called:\n%s", rec)
			}
			if !strings.Contains(logs.String(), tc.line) {
				t.Errorf("start-up logs lack %q:\n%s", tc.line, logs.String())
			}
		})
	}
}

// awaitDockerRun waits until the stand-in docker was asked to run a
// container, then cancels: the stand-in starts nothing, so there is no
// port to wait for.
func awaitDockerRun(calls string, cancel context.CancelFunc) {
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(readFile(calls), "run ") && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	cancel()
}

func portOf(t *testing.T, addr string) string {
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatal(err)
	}
	return port
}

func readFile(name string) string {
	b, _ := os.ReadFile(name)
	return string(b)
}

// serveInBackground serves k on a new local port until cancel is called;
// served receives Serve's result.
func serveInBackground(t *testing.T, k *appkernel.Kernel) (base string, cancel context.CancelFunc, served <-chan error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	done := make(chan error, 1)
	go func() { done <- k.Serve(ctx, ln) }()
	return "http://" + ln.Addr().String(), cancel, done
}

type getResult struct {
	body string
	err  error
}

// getInBackground GETs url and delivers the whole body or the error.
func getInBackground(url string) <-chan getResult {
	got := make(chan getResult, 1)
	go func() {
		res, err := http.Get(url)
		if err != nil {
			got <- getResult{err: err}
			return
		}
		b, err := io.ReadAll(res.Body)
		res.Body.Close()
		got <- getResult{string(b), err}
	}()
	return got
}
