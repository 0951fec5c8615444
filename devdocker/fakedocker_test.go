package devdocker_test

import (
	"appkernel/internal/testenv"
	"bufio"
	"encoding/binary"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeScript stands in for the docker CLI. It records each call's arguments
// (one line per call, arguments separated by \037) in calls, the password
// variables of its environment on run in secrets, and behaves as the files
// beside it say: info_fails, existing (names `ps -a` prints), run_fails (the
// stderr of a failing run). A successful run or start appends the
// container's name to up, which fakeDocker.serve watches.
const fakeScript = `#!/bin/sh
d=$(dirname "$0")
for a in "$@"; do printf '%s\037' "$a"; done >> "$d/calls"
printf '\n' >> "$d/calls"
case "$1" in
info)
	if [ -e "$d/info_fails" ]; then
		echo "Cannot connect to the Docker daemon at unix:///var/run/docker.sock. Is the docker daemon running?" >&2
		exit 1
	fi
	echo 28.2.2 ;;
ps)
	cat "$d/existing" 2>/dev/null
	exit 0 ;;
run)
	name=""; prev=""
	for a in "$@"; do [ "$prev" = "--name" ] && name=$a; prev=$a; done
	env | grep -E '^(POSTGRES|MARIADB|REDIS)_[A-Z_]*PASSWORD=' >> "$d/secrets"
	if [ -e "$d/run_fails" ]; then cat "$d/run_fails" >&2; exit 125; fi
	echo "$name" >> "$d/up"
	echo 3f2a9c0d ;;
start)
	echo "$2" >> "$d/up"
	echo "$2" ;;
*)
	echo "unexpected docker $1" >&2
	exit 2 ;;
esac
`

// fakeDocker is a stand-in docker CLI in a temporary directory.
type fakeDocker struct {
	t    *testing.T
	dir  string
	path string
}

func newFakeDocker(t *testing.T) *fakeDocker {
	t.Helper()
	if runtime.GOOS == "windows" {
		t.Skip("the stand-in docker is a shell script")
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "docker")
	if err := os.WriteFile(path, []byte(fakeScript), 0o755); err != nil {
		t.Fatal(err)
	}
	return &fakeDocker{t: t, dir: dir, path: path}
}

func (f *fakeDocker) write(name, content string) {
	f.t.Helper()
	if err := os.WriteFile(filepath.Join(f.dir, name), []byte(content), 0o644); err != nil {
		f.t.Fatal(err)
	}
}

func (f *fakeDocker) read(name string) string {
	b, err := os.ReadFile(filepath.Join(f.dir, name))
	if err != nil && !os.IsNotExist(err) {
		f.t.Fatal(err)
	}
	return string(b)
}

// infoFails makes `docker info` fail as it does without an engine.
func (f *fakeDocker) infoFails() { f.write("info_fails", "") }

// exists makes `docker ps -a` list the container.
func (f *fakeDocker) exists(name string) { f.write("existing", "appkernel-other\n"+name+"\n") }

// runFails makes `docker run` fail with stderr.
func (f *fakeDocker) runFails(stderr string) { f.write("run_fails", stderr) }

// calls returns the argument lists of every docker invocation so far.
func (f *fakeDocker) calls() [][]string {
	var out [][]string
	for line := range strings.Lines(f.read("calls")) {
		line = strings.TrimSuffix(strings.TrimSuffix(line, "\n"), "\x1f")
		out = append(out, strings.Split(line, "\x1f"))
	}
	return out
}

// secrets returns the password variables docker run saw in its environment.
func (f *fakeDocker) secrets() []string {
	return strings.Fields(f.read("secrets"))
}

// serve simulates the container: once container was run or started, a
// server speaking proto listens at host:port until the test ends.
func (f *fakeDocker) serve(container, host, port, proto string) {
	t := f.t
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var mu sync.Mutex
	var ln net.Listener
	wg.Go(func() {
		for {
			select {
			case <-stop:
				return
			case <-time.After(5 * time.Millisecond):
			}
			if !slices.Contains(strings.Fields(f.read("up")), container) {
				continue
			}
			l, err := net.Listen("tcp", net.JoinHostPort(host, port))
			if err != nil {
				t.Errorf("simulated %s cannot listen: %v", container, err)
				return
			}
			mu.Lock()
			ln = l
			mu.Unlock()
			serveProto(l, proto)
			return
		}
	})
	t.Cleanup(func() {
		close(stop)
		mu.Lock()
		if ln != nil {
			ln.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
}

// listen starts a server speaking proto at a free port on host now and
// returns the port.
func listen(t *testing.T, host, proto string) string {
	t.Helper()
	l, err := net.Listen("tcp", net.JoinHostPort(host, "0"))
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { serveProto(l, proto); close(done) }()
	t.Cleanup(func() { l.Close(); <-done })
	return strconv.Itoa(l.Addr().(*net.TCPAddr).Port)
}

// serveProto answers each connection the way the real server's first
// exchange goes; "forwarder" accepts and hangs up, as Docker's port
// forwarder does while the server in the container is not listening yet.
func serveProto(l net.Listener, proto string) {
	for {
		conn, err := l.Accept()
		if err != nil {
			return
		}
		go func() {
			defer conn.Close()
			conn.SetDeadline(time.Now().Add(2 * time.Second))
			switch proto {
			case "postgres":
				var req [8]byte
				if _, err := io.ReadFull(conn, req[:]); err != nil {
					return
				}
				if binary.BigEndian.Uint32(req[:4]) == 8 && binary.BigEndian.Uint32(req[4:]) == 80877103 {
					conn.Write([]byte("N"))
				}
			case "mysql":
				conn.Write([]byte("\x4a\x00\x00\x00\x0a11.4.2-MariaDB\x00"))
			case "redis":
				line, err := bufio.NewReader(conn).ReadString('\n')
				if err == nil && line == "PING\r\n" {
					conn.Write([]byte("+PONG\r\n"))
				}
			case "forwarder":
			}
		}()
	}
}

// freePort returns a port on which nothing listens on host.
func freePort(t *testing.T, host string) string {
	t.Helper()
	l, err := net.Listen("tcp", net.JoinHostPort(host, "0"))
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return strconv.Itoa(l.Addr().(*net.TCPAddr).Port)
}

// newLogger logs everything, DEBUG included, so tests see every line.
func newLogger() (*slog.Logger, *testenv.Buffer) {
	b := &testenv.Buffer{}
	return slog.New(slog.NewTextHandler(b, &slog.HandlerOptions{Level: slog.LevelDebug})), b
}

func discard() *slog.Logger { return slog.New(slog.DiscardHandler) }
