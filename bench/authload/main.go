// Command authload is a load generator for token refresh that follows
// each rotation: every worker logs in once, then refreshes in a loop on its
// own keep-alive connection, always presenting the token the previous
// response returned (so every request of appkernel is a real rotation).
// Like wrk, the measured loop speaks HTTP/1.1 directly on the connection
// and reads only what it needs (status, Content-Length, the token), so the
// load generator takes as little of a shared machine's CPU as it can.
//
// Against a running service (the user must exist):
//
//	go run ./bench/authload -url http://127.0.0.1:8000 -email a@example.com -password '...' -c 50 -d 10s
//
// With -peer pocketbase it drives PocketBase the same way: log in with
// auth-with-password, then POST auth-refresh with the token of the previous
// answer in the Authorization header (PocketBase's tokens are stateless,
// so nothing is spent, but the load has the same shape), so that
// bench/compare.sh measures both sides with one tool:
//
//	go run ./bench/authload -peer pocketbase -url http://127.0.0.1:8090 -email bench@example.com -password bench-password-123
//
// Without -url it serves auth itself on a fresh SQLite file (in the same
// process, so client and server share the CPU):
//
//	go run ./bench/authload -c 50 -d 10s
package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/go-chi/chi/v5"

	"appkernel/auth"
	"appkernel/db"
	"appkernel/middleware"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "authload:", err)
		os.Exit(1)
	}
}

type options struct {
	url, email, password string
	register             bool
	conns                int
	dur                  time.Duration
	prefix               string
	peer                 peer
}

// peer is what differs between the two services authload drives: where
// and how to log in and refresh, and where the next token is.
type peer struct {
	prefix       string // default -prefix
	login        string // path under prefix
	refresh      string
	loginBody    func(email, password string) any
	tokenKey     string // JSON key of the token to present next
	tokenInBody  bool   // the refresh request carries the token as {"refresh_token":…}; else as Authorization
	registerPath string // path under prefix; empty when authload cannot register there
}

// peerNamed returns the peer of -peer.
func peerNamed(name string) (peer, bool) {
	switch name {
	case "appkernel":
		return peer{
			prefix: "/auth", login: "/login", refresh: "/refresh", registerPath: "/register",
			loginBody:   func(email, password string) any { return map[string]string{"email": email, "password": password} },
			tokenKey:    "refresh_token",
			tokenInBody: true,
		}, true
	case "pocketbase":
		return peer{
			prefix: "/api/collections/users", login: "/auth-with-password", refresh: "/auth-refresh",
			loginBody: func(email, password string) any { return map[string]string{"identity": email, "password": password} },
			tokenKey:  "token",
		}, true
	}
	return peer{}, false
}

func run() error {
	var o options
	flag.StringVar(&o.url, "url", "", "base URL of the service (auth mounted at /auth); empty serves auth in process on SQLite")
	peerName := flag.String("peer", "appkernel", "the service's kind: appkernel or pocketbase")
	flag.StringVar(&o.prefix, "prefix", "", "path where auth is mounted (default /auth for appkernel, /api/collections/users for pocketbase)")
	flag.StringVar(&o.email, "email", "load@example.com", "account to log in with")
	flag.StringVar(&o.password, "password", "load-test-password", "its password")
	flag.BoolVar(&o.register, "register", false, "register the account first (needs the first user or self-signup)")
	flag.IntVar(&o.conns, "c", 50, "concurrent workers (connections), each with its own session")
	flag.DurationVar(&o.dur, "d", 10*time.Second, "duration of the measured run")
	flag.Parse()
	if o.conns < 1 || o.dur <= 0 {
		return errors.New("-c and -d must be positive")
	}
	var ok bool
	if o.peer, ok = peerNamed(*peerName); !ok {
		return fmt.Errorf("-peer %q: want appkernel or pocketbase", *peerName)
	}
	if o.prefix == "" {
		o.prefix = o.peer.prefix
	}
	ctx := context.Background()
	if o.url == "" && *peerName != "appkernel" {
		return errors.New("-peer pocketbase needs the -url of a running PocketBase")
	}
	if o.url == "" {
		base, stop, err := serveInProcess(ctx, o)
		if err != nil {
			return err
		}
		defer stop()
		o.url = base
	}
	client := &http.Client{
		Timeout: 10 * time.Second,
		Transport: &http.Transport{
			MaxIdleConns:        o.conns,
			MaxIdleConnsPerHost: o.conns,
			DialContext:         (&net.Dialer{Timeout: 5 * time.Second}).DialContext,
		},
	}
	if o.register {
		if o.peer.registerPath == "" {
			return fmt.Errorf("-register: not supported for -peer %s", *peerName)
		}
		if _, status, err := post(client, o.url+o.prefix+o.peer.registerPath, o.peer.loginBody(o.email, o.password), o.peer.tokenKey); err != nil || status != http.StatusCreated {
			return fmt.Errorf("register: status %d: %v", status, err)
		}
	}
	// Log every worker in before the clock starts. A service that limits
	// sign-ins per address (appkernel: 60 a minute, then one a second)
	// answers 429 to a second run within the minute: wait for it, outside
	// the measured time.
	tokens := make([]string, o.conns)
	for i := range tokens {
		t, status, err := post(client, o.url+o.prefix+o.peer.login, o.peer.loginBody(o.email, o.password), o.peer.tokenKey)
		for tries := 0; status == http.StatusTooManyRequests && tries < 120; tries++ {
			time.Sleep(time.Second)
			t, status, err = post(client, o.url+o.prefix+o.peer.login, o.peer.loginBody(o.email, o.password), o.peer.tokenKey)
		}
		if err != nil || status != http.StatusOK || t == "" {
			return fmt.Errorf("login of worker %d: status %d: %v", i, status, err)
		}
		tokens[i] = t
	}
	res := make([]result, o.conns)
	deadline := time.Now().Add(o.dur)
	var wg sync.WaitGroup
	start := time.Now()
	for i := range o.conns {
		wg.Go(func() { res[i] = worker(o.url+o.prefix+o.peer.refresh, o.peer, tokens[i], deadline) })
	}
	wg.Wait()
	elapsed := time.Since(start)
	report(res, elapsed, o)
	return nil
}

type result struct {
	ok        int
	failures  map[int]int // status → count (0 = transport error)
	latencies []time.Duration
}

// worker refreshes until deadline, following each rotation. After a
// failure it cannot continue its chain and stops.
func worker(rawURL string, p peer, token string, deadline time.Time) result {
	r := result{failures: map[int]int{}}
	u, err := url.Parse(rawURL)
	if err != nil || u.Scheme != "http" {
		r.failures[0]++
		return r
	}
	conn, err := net.DialTimeout("tcp", u.Host, 5*time.Second)
	if err != nil {
		r.failures[0]++
		return r
	}
	defer conn.Close()
	br := bufio.NewReaderSize(conn, 16<<10)
	head := "POST " + u.RequestURI() + " HTTP/1.1\r\nHost: " + u.Host + "\r\n"
	var req, body []byte
	for time.Now().Before(deadline) {
		t0 := time.Now()
		req = appendRefresh(req[:0], head, p, token)
		_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
		if _, err := conn.Write(req); err != nil {
			r.failures[0]++
			return r
		}
		status, b, err := readResponse(br, body[:0])
		body = b
		if err != nil {
			r.failures[0]++
			return r
		}
		next := stringIn(body, p.tokenKey)
		if status != http.StatusOK || next == "" {
			r.failures[status]++
			return r
		}
		r.latencies = append(r.latencies, time.Since(t0))
		r.ok++
		token = next
	}
	return r
}

// readResponse reads one HTTP/1.1 response and returns its status and body
// (Content-Length or chunked).
func readResponse(br *bufio.Reader, body []byte) (int, []byte, error) {
	line, err := br.ReadSlice('\n')
	if err != nil {
		return 0, body, err
	}
	if len(line) < 12 || !bytes.HasPrefix(line, []byte("HTTP/1.1 ")) {
		return 0, body, fmt.Errorf("bad status line %q", line)
	}
	status, err := strconv.Atoi(string(line[9:12]))
	if err != nil {
		return 0, body, err
	}
	length, chunked := -1, false
	for {
		line, err := br.ReadSlice('\n')
		if err != nil {
			return 0, body, err
		}
		line = bytes.TrimRight(line, "\r\n")
		if len(line) == 0 {
			break
		}
		k, v, _ := bytes.Cut(line, []byte(":"))
		v = bytes.TrimSpace(v)
		switch {
		case bytes.EqualFold(k, []byte("Content-Length")):
			if length, err = strconv.Atoi(string(v)); err != nil {
				return 0, body, err
			}
		case bytes.EqualFold(k, []byte("Transfer-Encoding")):
			chunked = bytes.EqualFold(v, []byte("chunked"))
		}
	}
	if !chunked {
		if length < 0 {
			return 0, body, errors.New("response without Content-Length")
		}
		body = slices.Grow(body[:0], length)[:length]
		_, err := io.ReadFull(br, body)
		return status, body, err
	}
	body = body[:0]
	for {
		line, err := br.ReadSlice('\n')
		if err != nil {
			return 0, body, err
		}
		n, err := strconv.ParseInt(string(bytes.TrimSpace(line)), 16, 32)
		if err != nil {
			return 0, body, err
		}
		if n == 0 {
			_, err := br.ReadSlice('\n') // no trailers are sent
			return status, body, err
		}
		start := len(body)
		body = slices.Grow(body, int(n)+2)[:start+int(n)+2]
		if _, err := io.ReadFull(br, body[start:]); err != nil {
			return 0, body, err
		}
		body = body[:start+int(n)]
	}
}

// appendRefresh appends the refresh request of p presenting token.
func appendRefresh(req []byte, head string, p peer, token string) []byte {
	req = append(req, head...)
	if !p.tokenInBody {
		req = append(req, "Authorization: "...)
		req = append(req, token...)
		return append(req, "\r\nContent-Length: 0\r\n\r\n"...)
	}
	req = append(req, "Content-Type: application/json\r\nContent-Length: "...)
	req = strconv.AppendInt(req, int64(len(`{"refresh_token":""}`)+len(token)), 10)
	req = append(req, "\r\n\r\n"...)
	req = append(req, `{"refresh_token":"`...)
	req = append(req, token...)
	return append(req, `"}`...)
}

// stringIn returns the string value of the first "key" of a JSON answer
// (tokens are written unescaped: base64url and dots).
func stringIn(body []byte, key string) string {
	k := `"` + key + `":"`
	i := bytes.Index(body, []byte(k))
	if i < 0 {
		return ""
	}
	rest := body[i+len(k):]
	j := bytes.IndexByte(rest, '"')
	if j < 0 {
		return ""
	}
	return string(rest[:j])
}

// post sends a JSON body and returns the string at key of the answer.
func post(client *http.Client, url string, body any, key string) (string, int, error) {
	b, _ := json.Marshal(body)
	res, err := client.Post(url, "application/json", bytes.NewReader(b))
	if err != nil {
		return "", 0, err
	}
	defer res.Body.Close()
	var out map[string]any
	data, err := io.ReadAll(res.Body)
	if err != nil {
		return "", res.StatusCode, err
	}
	if res.StatusCode >= 300 {
		return "", res.StatusCode, fmt.Errorf("%s", bytes.TrimSpace(data))
	}
	if err := json.Unmarshal(data, &out); err != nil {
		return "", res.StatusCode, err
	}
	t, _ := out[key].(string)
	return t, res.StatusCode, nil
}

func report(res []result, elapsed time.Duration, o options) {
	var all []time.Duration
	ok := 0
	failures := map[int]int{}
	for _, r := range res {
		ok += r.ok
		all = append(all, r.latencies...)
		for s, n := range r.failures {
			failures[s] += n
		}
	}
	slices.Sort(all)
	pct := func(p float64) time.Duration {
		if len(all) == 0 {
			return 0
		}
		return all[min(len(all)-1, int(p*float64(len(all))))]
	}
	fmt.Printf("POST %s, each with the token of the answer before: %d workers, %s\n", o.url+o.prefix+o.peer.refresh, o.conns, elapsed.Round(time.Millisecond))
	fmt.Printf("  refreshes  %d (%.0f/s)\n", ok, float64(ok)/elapsed.Seconds())
	fmt.Printf("  latency    p50 %s  p90 %s  p99 %s  max %s\n", pct(0.50).Round(time.Microsecond),
		pct(0.90).Round(time.Microsecond), pct(0.99).Round(time.Microsecond), pct(1).Round(time.Microsecond))
	nerr := 0
	for _, n := range failures {
		nerr += n
	}
	fmt.Printf("  errors     %d", nerr)
	if nerr > 0 {
		fmt.Printf(" %v (status → count; 0 = transport error)", failures)
	}
	fmt.Println()
}

// serveInProcess starts auth on a fresh SQLite file with the account of o.
func serveInProcess(ctx context.Context, o options) (string, func(), error) {
	dir, err := os.MkdirTemp("", "authload-*")
	if err != nil {
		return "", nil, err
	}
	store, err := db.Open(ctx, "sqlite:///"+filepath.Join(dir, "auth.db"))
	if err != nil {
		return "", nil, err
	}
	a, err := auth.New(ctx, auth.Config{
		Store:  store,
		Secret: []byte("authload-secret-authload-secret-authload"),
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		return "", nil, err
	}
	if _, err := a.CreateUser(ctx, auth.CreateUserInput{Email: o.email, Password: o.password}); err != nil {
		return "", nil, err
	}
	r := chi.NewRouter()
	r.Use(middleware.RequestID, a.Authenticate)
	r.Mount(o.prefix, a.Routes())
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, err
	}
	srv := &http.Server{Handler: r, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	stop := func() {
		_ = srv.Shutdown(context.Background())
		store.Close()
		os.RemoveAll(dir)
	}
	return "http://" + ln.Addr().String(), stop, nil
}
