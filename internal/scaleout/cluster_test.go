package scaleout

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"appkernel/internal/testenv"
)

// buildExample builds ./examples/widgets into a folder of t (without the
// race detector: the instances are the system under test, the harness is
// what runs under -race).
func buildExample(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "widgets")
	cmd := exec.Command("go", "build", "-o", bin, "./examples/widgets")
	cmd.Dir = filepath.Join("..", "..")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build ./examples/widgets: %v\n%s", err, out)
	}
	return bin
}

// cluster is n instances of the example on one database and one Redis,
// driven round-robin like a load balancer would.
type cluster struct {
	t     *testing.T
	bin   string
	env   []string
	insts []*instance
	rr    atomic.Uint64
	http  *http.Client
}

type instance struct {
	name   string
	url    string
	cmd    *exec.Cmd
	out    *testenv.Buffer
	exited chan struct{}
	dead   atomic.Bool // killed or stopped by the test
}

// startCluster starts n instances with env added to the environment the
// harness gives every instance, and waits until each is ready.
func startCluster(t *testing.T, bin string, n int, dbURL, redisURL string, env ...string) *cluster {
	t.Helper()
	secret := make([]byte, 32)
	_, _ = rand.Read(secret)
	prefix := make([]byte, 6)
	_, _ = rand.Read(prefix)
	c := &cluster{
		t:   t,
		bin: bin,
		env: append([]string{
			"APP_ENV=test",
			"LOG_LEVEL=info",
			"DEV_AUTOSTART=false",
			"DATABASE_URL=" + dbURL,
			"REDIS_URL=" + redisURL,
			"REDIS_PREFIX=scale_" + hex.EncodeToString(prefix),
			"JWT_SECRET=" + hex.EncodeToString(secret),
			"ALLOW_SELF_SIGNUP=true",
		}, env...),
		http: &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 64}},
	}
	for i := range n {
		c.insts = append(c.insts, c.start(fmt.Sprintf("instance-%d", i)))
	}
	for _, in := range c.insts {
		c.waitReady(in)
	}
	t.Cleanup(func() {
		for _, in := range c.insts {
			if !in.dead.Load() {
				_ = in.cmd.Process.Kill()
				<-in.exited
			}
		}
		if t.Failed() {
			for _, in := range c.insts {
				t.Logf("--- %s output:\n%s", in.name, tail(in.out.String(), 4000))
			}
		}
	})
	return c
}

func (c *cluster) start(name string) *instance {
	c.t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		c.t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	_ = ln.Close()
	in := &instance{name: name, url: "http://127.0.0.1:" + strconv.Itoa(port), out: &testenv.Buffer{}, exited: make(chan struct{})}
	in.cmd = exec.Command(c.bin)
	in.cmd.Env = append(append(os.Environ(), c.env...), "PORT="+strconv.Itoa(port))
	in.cmd.Stdout, in.cmd.Stderr = in.out, in.out
	if err := in.cmd.Start(); err != nil {
		c.t.Fatal(err)
	}
	go func() { _ = in.cmd.Wait(); close(in.exited) }()
	return in
}

func (c *cluster) waitReady(in *instance) {
	c.t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-in.exited:
			c.t.Fatalf("%s exited at start:\n%s", in.name, tail(in.out.String(), 4000))
		default:
		}
		resp, err := c.http.Get(in.url + "/readyz")
		if err == nil {
			_ = resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	c.t.Fatalf("%s not ready within 60s:\n%s", in.name, tail(in.out.String(), 4000))
}

// next returns the next live instance, round-robin.
func (c *cluster) next() *instance {
	for {
		in := c.insts[c.rr.Add(1)%uint64(len(c.insts))]
		if !in.dead.Load() {
			return in
		}
	}
}

// kill sends sig to an instance and marks it dead for next.
func (c *cluster) kill(in *instance, sig syscall.Signal) {
	in.dead.Store(true)
	_ = in.cmd.Process.Signal(sig)
}

// reply is one answer: status and body (status 0 when the request failed).
type reply struct {
	status int
	body   []byte
	err    error
}

func (r reply) decode(t testing.TB, v any) {
	t.Helper()
	if err := json.Unmarshal(r.body, v); err != nil {
		t.Fatalf("decode %s: %v", r.body, err)
	}
}

// do sends a JSON request to in with an optional bearer token.
func (c *cluster) do(in *instance, method, path, token string, body any) reply {
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(context.Background(), method, in.url+path, rd)
	if err != nil {
		return reply{err: err}
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return reply{err: err}
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return reply{status: resp.StatusCode, body: b, err: err}
}

// must is do, failing the test unless the answer has status want.
func (c *cluster) must(in *instance, want int, method, path, token string, body any) reply {
	c.t.Helper()
	r := c.do(in, method, path, token, body)
	if r.err != nil || r.status != want {
		c.t.Fatalf("%s %s on %s: got %d %s (%v), want %d", method, path, in.name, r.status, r.body, r.err, want)
	}
	return r
}

// session is a signed-in user's tokens.
type session struct {
	UserID       string
	AccessToken  string `json:"access_token"`
	RefreshToken string `json:"refresh_token"`
	User         struct {
		ID string `json:"id"`
	} `json:"user"`
}

// register signs a new user up (on the next instance) and returns its session.
func (c *cluster) register(t *testing.T, email string) session {
	t.Helper()
	var s session
	c.must(c.next(), 201, "POST", "/auth/register", "", map[string]string{"email": email, "password": password}).decode(t, &s)
	s.UserID = s.User.ID
	return s
}

// login signs an existing user in on in.
func (c *cluster) login(t *testing.T, in *instance, email string) session {
	t.Helper()
	var s session
	c.must(in, 200, "POST", "/auth/login", "", map[string]string{"email": email, "password": password}).decode(t, &s)
	s.UserID = s.User.ID
	return s
}

func tail(s string, n int) string {
	if len(s) > n {
		return "…" + s[len(s)-n:]
	}
	return s
}

// eventually polls cond every 100 ms until it holds or within passes.
func eventually(t *testing.T, within time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %s", what, within)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
