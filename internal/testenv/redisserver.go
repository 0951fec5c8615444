package testenv

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"
)

// RedisServer is a redis-server process a test owns: it can kill it and
// start it again on the same port, to test what happens while Redis is
// down and after it returns. Call its methods from the test's goroutine.
type RedisServer struct {
	t    testing.TB
	port int
	dir  string
	cmd  *exec.Cmd
	done chan struct{} // closed when cmd has exited
	out  *Buffer       // the server's output, shown when it fails to start
}

// StartRedis starts a redis-server on a free port of 127.0.0.1, without
// persistence, and stops it when the test ends. Without redis-server on
// PATH the test is skipped with one line, or fails under
// APPKERNEL_TEST_REQUIRE_SERVICES=1.
func StartRedis(t testing.TB) *RedisServer {
	t.Helper()
	if _, err := exec.LookPath("redis-server"); err != nil {
		if Required() {
			t.Fatalf("redis-server is required (%s=1) but is not on PATH", RequireVar)
		}
		t.Skip("redis-server not on PATH: install Redis to run this test")
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("testenv: free port: %v", err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	_ = l.Close()
	s := &RedisServer{t: t, port: port, dir: t.TempDir()}
	t.Cleanup(s.Kill)
	s.start()
	return s
}

// URL is the server's address as a REDIS_URL (database 0).
func (s *RedisServer) URL() string { return "redis://" + s.Addr() + "/0" }

// Addr is the server's host:port.
func (s *RedisServer) Addr() string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(s.port)) }

// Kill stops the server at once (SIGKILL) and waits until it is gone.
// Killing a stopped server does nothing.
func (s *RedisServer) Kill() {
	if s.cmd == nil {
		return
	}
	_ = s.cmd.Process.Kill()
	<-s.done
	s.cmd = nil
}

// Restart starts the server again on the same port, empty, and waits
// until it answers. A running server is killed first.
func (s *RedisServer) Restart() {
	s.t.Helper()
	s.Kill()
	s.start()
}

func (s *RedisServer) start() {
	s.t.Helper()
	cmd := exec.Command("redis-server", "--bind", "127.0.0.1", "--port", strconv.Itoa(s.port),
		"--save", "", "--appendonly", "no", "--dir", s.dir, "--logfile", "")
	s.out = &Buffer{}
	cmd.Stdout, cmd.Stderr = s.out, s.out
	if err := cmd.Start(); err != nil {
		s.t.Fatalf("testenv: start redis-server: %v", err)
	}
	s.cmd, s.done = cmd, make(chan struct{})
	go func(done chan struct{}) { _ = cmd.Wait(); close(done) }(s.done)
	deadline := time.Now().Add(10 * time.Second)
	for {
		select {
		case <-s.done: // e.g. another process took the port meanwhile
			s.cmd = nil
			s.t.Fatalf("testenv: redis-server on port %d exited: %s", s.port, s.out)
		default:
		}
		err := s.ping()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			s.Kill()
			s.t.Fatalf("testenv: redis-server on port %d does not answer within 10s: %v\n%s", s.port, err, s.out)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// ping asks the server on the port for its process id and checks that
// it is this server (not another process that took the port meanwhile).
func (s *RedisServer) ping() error {
	c, err := net.DialTimeout("tcp", s.Addr(), time.Second)
	if err != nil {
		return err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(time.Second))
	if _, err := c.Write([]byte("INFO server\r\n")); err != nil {
		return err
	}
	r := bufio.NewReader(c)
	head, err := r.ReadString('\n')
	if err != nil {
		return err
	}
	n, err := strconv.Atoi(strings.TrimSpace(strings.TrimPrefix(head, "$")))
	if err != nil || !strings.HasPrefix(head, "$") {
		return fmt.Errorf("INFO answered %q", head)
	}
	body := make([]byte, n)
	if _, err := io.ReadFull(r, body); err != nil {
		return err
	}
	want := "process_id:" + strconv.Itoa(s.cmd.Process.Pid) + "\r\n"
	if !strings.Contains(string(body), want) {
		return fmt.Errorf("another process answers on port %d", s.port)
	}
	return nil
}
