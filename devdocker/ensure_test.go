package devdocker_test

import (
	"context"
	"errors"
	"net"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"appkernel/devdocker"
)

const password = "s3cret-Pa55"

// noSecret fails t when the password shows in any of texts.
func noSecret(t *testing.T, texts ...string) {
	t.Helper()
	for _, s := range texts {
		if strings.Contains(s, password) {
			t.Errorf("password leaked into %q", s)
		}
	}
}

func errText(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

func joinCalls(calls [][]string) string {
	var b strings.Builder
	for _, c := range calls {
		b.WriteString(strings.Join(c, " "))
		b.WriteString("\n")
	}
	return b.String()
}

func TestEnsureRunsContainerFromURL(t *testing.T) {
	type tc struct {
		name     string
		url      string // PORT is replaced by a free port
		proto    string
		run      []string // PORT is replaced
		secrets  []string
		service  string
		hostPort string // PORT is replaced
	}
	cases := []tc{
		{
			name:  "postgres with user, password and database",
			url:   "postgres://app:" + password + "@localhost:PORT/appdb?sslmode=disable",
			proto: "postgres",
			run: []string{"run", "-d", "--name", "appkernel-postgres", "-p", "127.0.0.1:PORT:5432",
				"-e", "POSTGRES_USER=app", "-e", "POSTGRES_DB=appdb", "-e", "POSTGRES_PASSWORD", "postgres:16-alpine"},
			secrets:  []string{"POSTGRES_PASSWORD=" + password},
			service:  "PostgreSQL",
			hostPort: "localhost:PORT",
		},
		{
			name:  "postgresql scheme without password trusts connections",
			url:   "postgresql://127.0.0.1:PORT",
			proto: "postgres",
			run: []string{"run", "-d", "--name", "appkernel-postgres", "-p", "127.0.0.1:PORT:5432",
				"-e", "POSTGRES_USER=postgres", "-e", "POSTGRES_HOST_AUTH_METHOD=trust", "postgres:16-alpine"},
			service:  "PostgreSQL",
			hostPort: "127.0.0.1:PORT",
		},
		{
			name:  "postgres password as query parameter",
			url:   "postgres://localhost:PORT/appdb?user=app&password=" + password,
			proto: "postgres",
			run: []string{"run", "-d", "--name", "appkernel-postgres", "-p", "127.0.0.1:PORT:5432",
				"-e", "POSTGRES_USER=app", "-e", "POSTGRES_DB=appdb", "-e", "POSTGRES_PASSWORD", "postgres:16-alpine"},
			secrets:  []string{"POSTGRES_PASSWORD=" + password},
			service:  "PostgreSQL",
			hostPort: "localhost:PORT",
		},
		{
			name:  "mysql as root without password",
			url:   "mysql://root@127.0.0.1:PORT/appdb",
			proto: "mysql",
			run: []string{"run", "-d", "--name", "appkernel-mysql", "-p", "127.0.0.1:PORT:3306",
				"-e", "MARIADB_DATABASE=appdb", "-e", "MARIADB_ALLOW_EMPTY_ROOT_PASSWORD=1", "mariadb:11"},
			service:  "MySQL",
			hostPort: "127.0.0.1:PORT",
		},
		{
			name:  "mysql as root with password",
			url:   "mysql://root:" + password + "@localhost:PORT/appdb",
			proto: "mysql",
			run: []string{"run", "-d", "--name", "appkernel-mysql", "-p", "127.0.0.1:PORT:3306",
				"-e", "MARIADB_DATABASE=appdb", "-e", "MARIADB_ROOT_PASSWORD", "mariadb:11"},
			secrets:  []string{"MARIADB_ROOT_PASSWORD=" + password},
			service:  "MySQL",
			hostPort: "localhost:PORT",
		},
		{
			name:  "mysql as a user",
			url:   "mysql://shop:" + password + "@localhost:PORT/shopdb",
			proto: "mysql",
			run: []string{"run", "-d", "--name", "appkernel-mysql", "-p", "127.0.0.1:PORT:3306",
				"-e", "MARIADB_DATABASE=shopdb", "-e", "MARIADB_USER=shop",
				"-e", "MARIADB_PASSWORD", "-e", "MARIADB_ROOT_PASSWORD", "mariadb:11"},
			secrets:  []string{"MARIADB_PASSWORD=" + password, "MARIADB_ROOT_PASSWORD=" + password},
			service:  "MySQL",
			hostPort: "localhost:PORT",
		},
		{
			name:  "redis without password",
			url:   "redis://localhost:PORT/0",
			proto: "redis",
			run: []string{"run", "-d", "--name", "appkernel-redis", "-p", "127.0.0.1:PORT:6379",
				"redis:7-alpine"},
			service:  "Redis",
			hostPort: "localhost:PORT",
		},
		{
			name:  "redis with password",
			url:   "redis://:" + password + "@LocalHost:PORT/2",
			proto: "redis",
			run: []string{"run", "-d", "--name", "appkernel-redis", "-p", "127.0.0.1:PORT:6379",
				"-e", "REDIS_PASSWORD", "redis:7-alpine",
				"sh", "-c", `exec docker-entrypoint.sh redis-server --requirepass "$REDIS_PASSWORD"`},
			secrets:  []string{"REDIS_PASSWORD=" + password},
			service:  "Redis",
			hostPort: "LocalHost:PORT",
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			fake := newFakeDocker(t)
			port := freePort(t, "127.0.0.1")
			sub := func(s string) string { return strings.ReplaceAll(s, "PORT", port) }
			container := c.run[3]
			fake.serve(container, "127.0.0.1", port, c.proto)
			logger, logs := newLogger()

			started, err := devdocker.Ensure(t.Context(), devdocker.Options{Enabled: true, Docker: fake.path, Logger: logger}, sub(c.url))
			if err != nil {
				t.Fatalf("Ensure: %v", err)
			}

			wantRun := make([]string, len(c.run))
			for i, a := range c.run {
				wantRun[i] = sub(a)
			}
			want := [][]string{
				{"info", "--format", "{{.ServerVersion}}"},
				{"ps", "-a", "--filter", "name=" + container, "--format", "{{.Names}}"},
				wantRun,
			}
			if got := fake.calls(); !reflect.DeepEqual(got, want) {
				t.Errorf("docker calls:\n got %q\nwant %q", got, want)
			}
			got := fake.secrets()
			slices.Sort(got)
			if !reflect.DeepEqual(got, c.secrets) && len(got)+len(c.secrets) > 0 {
				t.Errorf("docker run environment: got %q, want %q", got, c.secrets)
			}
			if len(started) != 1 {
				t.Fatalf("started = %+v, want one", started)
			}
			s := started[0]
			if s.Service != c.service || s.Container != container || s.Addr != sub(c.hostPort) || !s.Created {
				t.Errorf("started = %+v", s)
			}
			wantLine := "✓ " + c.service + " started at " + sub(c.hostPort)
			if !strings.Contains(logs.String(), wantLine) {
				t.Errorf("log lacks %q:\n%s", wantLine, logs)
			}
			noSecret(t, logs.String(), joinCalls(fake.calls()), s.URL)
		})
	}
}

func TestEnsureStartsExistingContainer(t *testing.T) {
	fake := newFakeDocker(t)
	fake.exists("appkernel-postgres")
	port := freePort(t, "127.0.0.1")
	fake.serve("appkernel-postgres", "127.0.0.1", port, "postgres")
	logger, logs := newLogger()

	started, err := devdocker.Ensure(t.Context(), devdocker.Options{Enabled: true, Docker: fake.path, Logger: logger},
		"postgres://app:"+password+"@localhost:"+port+"/appdb")
	if err != nil {
		t.Fatal(err)
	}
	want := [][]string{
		{"info", "--format", "{{.ServerVersion}}"},
		{"ps", "-a", "--filter", "name=appkernel-postgres", "--format", "{{.Names}}"},
		{"start", "appkernel-postgres"},
	}
	if got := fake.calls(); !reflect.DeepEqual(got, want) {
		t.Errorf("docker calls:\n got %q\nwant %q", got, want)
	}
	if len(started) != 1 || started[0].Created {
		t.Errorf("started = %+v, want one not created", started)
	}
	if !strings.Contains(logs.String(), "✓ PostgreSQL started at localhost:"+port) {
		t.Errorf("log: %s", logs)
	}
	noSecret(t, logs.String())
}

func TestEnsureLeavesAloneWithoutCallingDocker(t *testing.T) {
	answeringPort := listen(t, "127.0.0.1", "postgres")
	closedPort := freePort(t, "127.0.0.1")
	cases := map[string]string{
		"port already answering": "postgres://app:" + password + "@localhost:" + answeringPort + "/appdb",
		"remote host":            "postgres://app:" + password + "@db.example.com:" + closedPort + "/appdb",
		"other loopback address": "redis://127.0.0.2:" + closedPort,
		"empty":                  "",
		"sqlite":                 "sqlite:///./data/app.db",
		"unknown scheme":         "http://localhost:" + closedPort,
		"redis over TLS":         "rediss://localhost:" + closedPort,
		"unix socket":            "postgres:///appdb?host=/var/run/postgresql",
		"unparseable":            "postgres://app:" + password + "@localhost:notaport/appdb",
	}
	for name, url := range cases {
		t.Run(name, func(t *testing.T) {
			fake := newFakeDocker(t)
			logger, logs := newLogger()
			started, err := devdocker.Ensure(t.Context(), devdocker.Options{Enabled: true, Docker: fake.path, Logger: logger}, url)
			if err != nil || len(started) != 0 {
				t.Errorf("Ensure = %v, %v; want nothing", started, err)
			}
			if calls := fake.calls(); len(calls) != 0 {
				t.Errorf("docker was called: %q", calls)
			}
			noSecret(t, logs.String(), errText(err))
		})
	}
}

func TestEnsureDisabledDoesNothing(t *testing.T) {
	fake := newFakeDocker(t)
	port := freePort(t, "127.0.0.1")
	started, err := devdocker.Ensure(t.Context(), devdocker.Options{Enabled: false, Docker: fake.path},
		"postgres://localhost:"+port+"/appdb", "redis://localhost:"+port)
	if err != nil || len(started) != 0 {
		t.Errorf("Ensure = %v, %v; want nothing", started, err)
	}
	if calls := fake.calls(); len(calls) != 0 {
		t.Errorf("docker was called: %q", calls)
	}
}

func TestEnsureWithoutDockerLogsWhyAndSucceeds(t *testing.T) {
	port := freePort(t, "127.0.0.1")
	url := "postgres://app:" + password + "@localhost:" + port + "/appdb"

	t.Run("docker info fails", func(t *testing.T) {
		fake := newFakeDocker(t)
		fake.infoFails()
		logger, logs := newLogger()
		started, err := devdocker.Ensure(t.Context(), devdocker.Options{Enabled: true, Docker: fake.path, Logger: logger}, url)
		if err != nil || len(started) != 0 {
			t.Fatalf("Ensure = %v, %v; want nothing and no error", started, err)
		}
		want := [][]string{{"info", "--format", "{{.ServerVersion}}"}}
		if got := fake.calls(); !reflect.DeepEqual(got, want) {
			t.Errorf("docker calls: got %q, want %q", got, want)
		}
		out := logs.String()
		if !strings.Contains(out, "level=INFO") || !strings.Contains(out, "Cannot connect to the Docker daemon") ||
			!strings.Contains(out, "PostgreSQL at localhost:"+port) {
			t.Errorf("log does not say why nothing started:\n%s", out)
		}
		if n := strings.Count(out, "level=INFO"); n != 1 {
			t.Errorf("%d INFO lines, want 1:\n%s", n, out)
		}
		noSecret(t, out)
	})

	t.Run("docker missing", func(t *testing.T) {
		logger, logs := newLogger()
		missing := filepath.Join(t.TempDir(), "docker")
		started, err := devdocker.Ensure(t.Context(), devdocker.Options{Enabled: true, Docker: missing, Logger: logger}, url)
		if err != nil || len(started) != 0 {
			t.Fatalf("Ensure = %v, %v; want nothing and no error", started, err)
		}
		if out := logs.String(); !strings.Contains(out, "level=INFO") || !strings.Contains(out, "not found") {
			t.Errorf("log does not say docker is missing:\n%s", out)
		}
	})

	t.Run("docker not on PATH", func(t *testing.T) {
		t.Setenv("PATH", t.TempDir())
		logger, logs := newLogger()
		_, err := devdocker.Ensure(t.Context(), devdocker.Options{Enabled: true, Logger: logger}, url)
		if err != nil {
			t.Fatal(err)
		}
		if out := logs.String(); !strings.Contains(out, `docker CLI \"docker\" not found`) {
			t.Errorf("log does not say docker is missing:\n%s", out)
		}
	})
}

func TestEnsureFindsDockerOnPATH(t *testing.T) {
	fake := newFakeDocker(t)
	// The stand-in comes first; the rest of PATH holds the tools it uses.
	t.Setenv("PATH", fake.dir+string(os.PathListSeparator)+os.Getenv("PATH"))
	port := freePort(t, "127.0.0.1")
	fake.serve("appkernel-redis", "127.0.0.1", port, "redis")
	logger, _ := newLogger()
	started, err := devdocker.Ensure(t.Context(), devdocker.Options{Enabled: true, Logger: logger}, "redis://localhost:"+port)
	if err != nil {
		t.Fatal(err)
	}
	if len(started) != 1 || started[0].Container != "appkernel-redis" {
		t.Errorf("started = %+v", started)
	}
	// The calls were recorded, so the stand-in on PATH ran, not a real docker.
	if calls := fake.calls(); len(calls) != 3 || calls[2][0] != "run" {
		t.Errorf("docker calls: %q", calls)
	}
}

func TestEnsureWaitTimeoutNamesServiceAndMaskedURL(t *testing.T) {
	for _, tc := range []struct{ name, proto string }{
		{"nothing listens", ""},
		// A port forwarder that accepts and hangs up is not a server.
		{"only a forwarder listens", "forwarder"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fake := newFakeDocker(t)
			port := freePort(t, "127.0.0.1")
			if tc.proto != "" {
				fake.serve("appkernel-postgres", "127.0.0.1", port, tc.proto)
			}
			logger, logs := newLogger()
			url := "postgres://app:" + password + "@localhost:" + port + "/appdb"
			begin := time.Now()
			started, err := devdocker.Ensure(t.Context(), devdocker.Options{Enabled: true, Docker: fake.path, Logger: logger, Wait: 300 * time.Millisecond}, url)
			if elapsed := time.Since(begin); elapsed > 5*time.Second {
				t.Errorf("Ensure took %s with Wait 300ms", elapsed)
			}
			if err == nil {
				t.Fatalf("Ensure = %+v, want a timeout error", started)
			}
			msg := err.Error()
			for _, want := range []string{"PostgreSQL", "postgres://app:xxxxx@localhost:" + port + "/appdb", "appkernel-postgres", "did not answer within 300ms"} {
				if !strings.Contains(msg, want) {
					t.Errorf("error %q lacks %q", msg, want)
				}
			}
			if strings.Contains(logs.String(), "✓") {
				t.Errorf("logged a start that did not happen:\n%s", logs)
			}
			noSecret(t, msg, logs.String())
		})
	}
}

func TestEnsureRunFailureIsMasked(t *testing.T) {
	fake := newFakeDocker(t)
	// A docker that echoes the secret must not leak it through the error.
	fake.runFails("docker: Error response from daemon: bad env POSTGRES_PASSWORD=" + password + "\n")
	port := freePort(t, "127.0.0.1")
	logger, logs := newLogger()
	_, err := devdocker.Ensure(t.Context(), devdocker.Options{Enabled: true, Docker: fake.path, Logger: logger},
		"postgres://app:"+password+"@localhost:"+port+"/appdb")
	if err == nil {
		t.Fatal("Ensure succeeded, want the run error")
	}
	msg := err.Error()
	for _, want := range []string{"PostgreSQL", "postgres://app:xxxxx@localhost:" + port, "docker run", "Error response from daemon"} {
		if !strings.Contains(msg, want) {
			t.Errorf("error %q lacks %q", msg, want)
		}
	}
	noSecret(t, msg, logs.String())
}

func TestEnsureMySQLUserWithoutPassword(t *testing.T) {
	fake := newFakeDocker(t)
	port := freePort(t, "127.0.0.1")
	_, err := devdocker.Ensure(t.Context(), devdocker.Options{Enabled: true, Docker: fake.path},
		"mysql://shop@localhost:"+port+"/shopdb")
	if err == nil || !strings.Contains(err.Error(), "MySQL") || !strings.Contains(err.Error(), "password") {
		t.Fatalf("err = %v, want one asking for a password", err)
	}
	for _, c := range fake.calls() {
		if c[0] == "run" {
			t.Errorf("docker run was called: %q", c)
		}
	}
}

func TestEnsureSeveralURLs(t *testing.T) {
	t.Run("one container per service and address", func(t *testing.T) {
		fake := newFakeDocker(t)
		pg := freePort(t, "127.0.0.1")
		rd := freePort(t, "127.0.0.1")
		fake.serve("appkernel-postgres", "127.0.0.1", pg, "postgres")
		fake.serve("appkernel-redis", "127.0.0.1", rd, "redis")
		logger, logs := newLogger()
		started, err := devdocker.Ensure(t.Context(), devdocker.Options{Enabled: true, Docker: fake.path, Logger: logger},
			"postgres://localhost:"+pg+"/app",
			"",                                // ADMIN_DB_URL unset
			"postgres://localhost:"+pg+"/app", // the admin DB is the app DB
			"redis://localhost:"+rd+"/0")
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, s := range started {
			names = append(names, s.Container)
		}
		if !reflect.DeepEqual(names, []string{"appkernel-postgres", "appkernel-redis"}) {
			t.Errorf("started %q", names)
		}
		runs := 0
		for _, c := range fake.calls() {
			if c[0] == "run" {
				runs++
			}
		}
		if runs != 2 {
			t.Errorf("%d docker runs, want 2: %q", runs, fake.calls())
		}
		out := logs.String()
		if !strings.Contains(out, "✓ PostgreSQL started at localhost:"+pg) || !strings.Contains(out, "✓ Redis started at localhost:"+rd) {
			t.Errorf("log:\n%s", out)
		}
	})

	t.Run("one container cannot serve two ports", func(t *testing.T) {
		fake := newFakeDocker(t)
		a, b := freePort(t, "127.0.0.1"), freePort(t, "127.0.0.1")
		_, err := devdocker.Ensure(t.Context(), devdocker.Options{Enabled: true, Docker: fake.path},
			"postgres://app:"+password+"@localhost:"+a+"/app", "postgres://localhost:"+b+"/admin")
		if err == nil || !strings.Contains(err.Error(), "appkernel-postgres") {
			t.Fatalf("err = %v, want a conflict naming the container", err)
		}
		noSecret(t, err.Error())
		for _, c := range fake.calls() {
			if c[0] == "run" || c[0] == "start" {
				t.Errorf("docker %s was called: %q", c[0], c)
			}
		}
	})
}

func TestEnsureIPv6Loopback(t *testing.T) {
	l, err := net.Listen("tcp", "[::1]:0")
	if err != nil {
		t.Skip("no IPv6 loopback on this machine:", err)
	}
	l.Close()
	fake := newFakeDocker(t)
	port := freePort(t, "::1")
	fake.serve("appkernel-redis", "::1", port, "redis")
	started, err := devdocker.Ensure(t.Context(), devdocker.Options{Enabled: true, Docker: fake.path, Logger: discard()},
		"redis://[::1]:"+port)
	if err != nil {
		t.Fatal(err)
	}
	if len(started) != 1 || started[0].Addr != "[::1]:"+port {
		t.Errorf("started = %+v", started)
	}
	run := fake.calls()[2]
	if run[4] != "-p" || run[5] != "[::1]:"+port+":6379" {
		t.Errorf("run publishes %q, want [::1]:%s:6379", run[4:6], port)
	}
}

func TestEnsureStopsWhenContextEnds(t *testing.T) {
	fake := newFakeDocker(t)
	port := freePort(t, "127.0.0.1")
	ctx, cancel := context.WithTimeout(t.Context(), 300*time.Millisecond)
	defer cancel()
	begin := time.Now()
	_, err := devdocker.Ensure(ctx, devdocker.Options{Enabled: true, Docker: fake.path, Logger: discard(), Wait: time.Minute},
		"postgres://app:"+password+"@localhost:"+port+"/appdb")
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want context.DeadlineExceeded", err)
	}
	if elapsed := time.Since(begin); elapsed > 5*time.Second {
		t.Errorf("Ensure returned after %s, want soon after the context ended", elapsed)
	}
	noSecret(t, err.Error())
}

func TestEnsureRejectsNegativeWait(t *testing.T) {
	_, err := devdocker.Ensure(t.Context(), devdocker.Options{Enabled: true, Wait: -time.Second}, "redis://localhost:1")
	if err == nil || !strings.Contains(err.Error(), "Options.Wait") {
		t.Fatalf("err = %v, want one naming Options.Wait", err)
	}
}
