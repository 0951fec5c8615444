package auth

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestPerIPLimitWithoutRedis: without Redis, an address flooding
// /auth/login and /auth/register is refused 429 rate_limited once its
// budget is spent, before any hashing (the test holds every hashing slot,
// so a request that reached the hasher would hang), while another address
// still signs in.
func TestPerIPLimitWithoutRedis(t *testing.T) {
	t.Parallel()
	const limit = 5
	h := newHarness(t, "sqlite", withSignup, withConfig(func(c *Config) { c.PerIPLimit, c.PerIPWindow = limit, time.Minute }))
	h.register("owner@example.com", "owner-password")
	flood := func(i int) resp {
		if i%2 == 0 {
			return h.do("POST", "/auth/login", map[string]string{"email": "owner@example.com", "password": "guess"}, "X-Test-IP", "10.66.0.1")
		}
		return h.do("POST", "/auth/register", map[string]string{"email": "flood" + strconv.Itoa(i) + "@example.com", "password": "flood-password"}, "X-Test-IP", "10.66.0.1")
	}
	for i := range limit { // login and register share one budget
		if r := flood(i); r.status == http.StatusTooManyRequests {
			t.Fatalf("request %d of the budget refused: %s", i+1, r.body)
		}
	}
	// Every hashing slot is now taken: a request that gets to hash waits.
	slots := h.auth.hasher.slots
	for range cap(slots) {
		slots <- struct{}{}
	}
	release := sync.OnceFunc(func() {
		for range cap(slots) {
			<-slots
		}
	})
	t.Cleanup(release)
	post := func(timeout time.Duration, path, ip string, body any) (*http.Response, error) {
		b, _ := json.Marshal(body)
		req, _ := http.NewRequest("POST", h.srv.URL+path, bytes.NewReader(b))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("X-Test-IP", ip)
		return (&http.Client{Timeout: timeout}).Do(req)
	}
	// (The premise: another address's login now waits for a slot.)
	if res, err := post(300*time.Millisecond, "/auth/login", "10.88.0.1", map[string]string{"email": "owner@example.com", "password": "guess"}); err == nil {
		res.Body.Close()
		t.Fatalf("a login answered %d while every hashing slot was held", res.StatusCode)
	}
	for i := range 2 {
		path := []string{"/auth/login", "/auth/register"}[i]
		res, err := post(5*time.Second, path, "10.66.0.1", map[string]string{"email": "late@example.com", "password": "owner-password"})
		if err != nil {
			t.Fatalf("%s past the per-IP budget did not answer at once (it waits for a hashing slot): %v", path, err)
		}
		res.Body.Close()
		ra, _ := strconv.Atoi(res.Header.Get("Retry-After"))
		if res.StatusCode != http.StatusTooManyRequests || ra < 1 || ra > int(time.Minute/limit/time.Second) {
			t.Fatalf("%s past the per-IP budget: %d Retry-After %q, want 429 within %s", path, res.StatusCode, res.Header.Get("Retry-After"), time.Minute/limit)
		}
	}
	r := flood(0)
	if r.status != http.StatusTooManyRequests || r.code(t) != "rate_limited" {
		t.Fatalf("flood: %d %s, want 429 rate_limited", r.status, r.body)
	}
	release()
	// Another address signs in meanwhile.
	if r := h.do("POST", "/auth/login", map[string]string{"email": "owner@example.com", "password": "owner-password"}, "X-Test-IP", "10.77.0.1"); r.status != http.StatusOK {
		t.Fatalf("another address: %d %s, want 200", r.status, r.body)
	}
}

// TestPerIPLimitConcurrent: of a burst of concurrent requests from one
// address exactly the budget gets past the limiter.
func TestPerIPLimitConcurrent(t *testing.T) {
	t.Parallel()
	const limit = 4
	h := newHarness(t, "sqlite", withSignup, withConfig(func(c *Config) { c.PerIPLimit = limit }))
	var passed atomic.Int64
	var wg sync.WaitGroup
	for i := range 24 {
		wg.Go(func() {
			r := h.do("POST", "/auth/login", map[string]string{"email": "x" + strconv.Itoa(i) + "@example.com", "password": "guess-guess"}, "X-Test-IP", "2001:db8:7::"+strconv.Itoa(i+1))
			if r.status != http.StatusTooManyRequests {
				passed.Add(1)
			}
		})
	}
	wg.Wait()
	if passed.Load() != limit {
		t.Fatalf("%d of 24 concurrent requests from one /64 got past the per-IP limit, want %d", passed.Load(), limit)
	}
}

func TestIPLimiterRefills(t *testing.T) {
	t.Parallel()
	clock := &fakeClock{t: time.Unix(1_700_000_000, 0)}
	l := newIPLimiter(3, 30*time.Second, clock.now)
	for i := range 3 {
		if w := l.allow("a"); w != 0 {
			t.Fatalf("request %d refused, wait %s", i+1, w)
		}
	}
	if w := l.allow("a"); w != 10*time.Second {
		t.Fatalf("4th request: wait %s, want 10s (one request per 10s)", w)
	}
	if w := l.allow("b"); w != 0 {
		t.Fatal("another key shares the budget")
	}
	clock.add(10 * time.Second)
	if w := l.allow("a"); w != 0 {
		t.Fatalf("after 10s: wait %s", w)
	}
	if w := l.allow("a"); w == 0 {
		t.Fatal("a refused request must not have been counted, nor the next be free")
	}
}
