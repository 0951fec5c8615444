// Command authload is a load generator for POST /auth/refresh that
// follows each rotation: every worker logs in once, then refreshes in a
// loop, always presenting the refresh token the previous response
// returned (so every request is a real rotation: a lookup, a unique-index
// insert and an update).
//
// Against a running service (the user must exist):
//
//	go run ./bench/authload -url http://127.0.0.1:8000 -email a@example.com -password '...' -c 50 -d 10s
//
// Without -url it serves auth itself on a fresh SQLite file (in the same
// process, so client and server share the CPU):
//
//	go run ./bench/authload -c 50 -d 10s
package main

import (
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
	"os"
	"path/filepath"
	"slices"
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
}

func run() error {
	var o options
	flag.StringVar(&o.url, "url", "", "base URL of the service (auth mounted at /auth); empty serves auth in process on SQLite")
	flag.StringVar(&o.prefix, "prefix", "/auth", "path where auth is mounted")
	flag.StringVar(&o.email, "email", "load@example.com", "account to log in with")
	flag.StringVar(&o.password, "password", "load-test-password", "its password")
	flag.BoolVar(&o.register, "register", false, "register the account first (needs the first user or self-signup)")
	flag.IntVar(&o.conns, "c", 50, "concurrent workers (connections), each with its own session")
	flag.DurationVar(&o.dur, "d", 10*time.Second, "duration of the measured run")
	flag.Parse()
	if o.conns < 1 || o.dur <= 0 {
		return errors.New("-c and -d must be positive")
	}
	ctx := context.Background()
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
		if _, status, err := post(client, o.url+o.prefix+"/register", map[string]string{"email": o.email, "password": o.password}); err != nil || status != http.StatusCreated {
			return fmt.Errorf("register: status %d: %v", status, err)
		}
	}
	// Log every worker in before the clock starts.
	tokens := make([]string, o.conns)
	for i := range tokens {
		t, status, err := post(client, o.url+o.prefix+"/login", map[string]string{"email": o.email, "password": o.password})
		if err != nil || status != http.StatusOK {
			return fmt.Errorf("login of worker %d: status %d: %v", i, status, err)
		}
		tokens[i] = t
	}
	res := make([]result, o.conns)
	deadline := time.Now().Add(o.dur)
	var wg sync.WaitGroup
	start := time.Now()
	for i := range o.conns {
		wg.Go(func() { res[i] = worker(client, o.url+o.prefix+"/refresh", tokens[i], deadline) })
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
func worker(client *http.Client, url, token string, deadline time.Time) result {
	r := result{failures: map[int]int{}}
	for time.Now().Before(deadline) {
		t0 := time.Now()
		next, status, err := post(client, url, map[string]string{"refresh_token": token})
		if err != nil || status != http.StatusOK {
			r.failures[status]++
			return r
		}
		r.latencies = append(r.latencies, time.Since(t0))
		r.ok++
		token = next
	}
	return r
}

// post sends a JSON body and returns the refresh_token of the answer.
func post(client *http.Client, url string, body any) (string, int, error) {
	b, _ := json.Marshal(body)
	res, err := client.Post(url, "application/json", bytes.NewReader(b))
	if err != nil {
		return "", 0, err
	}
	defer res.Body.Close()
	var out struct {
		RefreshToken string `json:"refresh_token"`
	}
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
	return out.RefreshToken, res.StatusCode, nil
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
	fmt.Printf("POST %s/refresh with rotation: %d workers, %s\n", o.url+o.prefix, o.conns, elapsed.Round(time.Millisecond))
	fmt.Printf("  rotations  %d (%.0f/s)\n", ok, float64(ok)/elapsed.Seconds())
	fmt.Printf("  latency    p50 %s  p90 %s  p99 %s  max %s\n", pct(0.50).Round(time.Microsecond),
		pct(0.90).Round(time.Microsecond), pct(0.99).Round(time.Microsecond), pct(1).Round(time.Microsecond))
	if len(failures) > 0 {
		fmt.Printf("  failures   %v (status → count; 0 = transport error)\n", failures)
	}
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
