package main

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// rotatingServer is a fake of both peers' refresh: every token it hands out
// is good for one refresh, which answers the next one (as appkernel does;
// PocketBase would accept a token again, so a load generator that did not
// follow the answers would pass there and fail here).
type rotatingServer struct {
	mu    sync.Mutex
	valid map[string]bool
	next  int
	used  int
}

func (s *rotatingServer) issue() string {
	s.next++
	t := "tok." + strconv.Itoa(s.next)
	s.valid[t] = true
	return t
}

func (s *rotatingServer) handler(p peer) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == p.prefix+p.login {
			s.mu.Lock()
			defer s.mu.Unlock()
			_ = json.NewEncoder(w).Encode(map[string]string{p.tokenKey: s.issue()})
			return
		}
		var presented string
		if p.tokenInBody {
			var body struct {
				RefreshToken string `json:"refresh_token"`
			}
			if err := json.NewDecoder(r.Body).Decode(&body); err != nil || r.Header.Get("Content-Type") != "application/json" {
				http.Error(w, "bad body", http.StatusBadRequest)
				return
			}
			presented = body.RefreshToken
		} else {
			if b, _ := io.ReadAll(r.Body); len(b) != 0 {
				http.Error(w, "body not expected", http.StatusBadRequest)
				return
			}
			presented = r.Header.Get("Authorization")
		}
		s.mu.Lock()
		defer s.mu.Unlock()
		if r.Method != http.MethodPost || r.URL.Path != p.prefix+p.refresh || !s.valid[presented] {
			http.Error(w, "unauthorized", http.StatusUnauthorized)
			return
		}
		delete(s.valid, presented)
		s.used++
		// The token is not the first key of PocketBase's answer.
		_ = json.NewEncoder(w).Encode(map[string]any{"record": map[string]string{"id": "u1"}, p.tokenKey: s.issue()})
	})
}

func TestWorkerFollowsEachAnswer(t *testing.T) {
	for _, name := range []string{"appkernel", "pocketbase"} {
		t.Run(name, func(t *testing.T) {
			p, ok := peerNamed(name)
			if !ok {
				t.Fatal("unknown peer")
			}
			fake := &rotatingServer{valid: map[string]bool{}}
			srv := httptest.NewServer(fake.handler(p))
			defer srv.Close()
			token, status, err := post(srv.Client(), srv.URL+p.prefix+p.login, p.loginBody("a@example.com", "pw"), p.tokenKey)
			if err != nil || status != http.StatusOK || token == "" {
				t.Fatalf("login: %q %d %v", token, status, err)
			}
			r := worker(srv.URL+p.prefix+p.refresh, p, token, time.Now().Add(300*time.Millisecond))
			if len(r.failures) != 0 || r.ok < 10 {
				t.Fatalf("%d refreshes, failures %v", r.ok, r.failures)
			}
			fake.mu.Lock()
			defer fake.mu.Unlock()
			if fake.used != r.ok {
				t.Fatalf("server rotated %d times, worker counted %d", fake.used, r.ok)
			}
		})
	}
}

func TestWorkerStopsAtARefusal(t *testing.T) {
	p, _ := peerNamed("pocketbase")
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, strings.Repeat("no", 10), http.StatusUnauthorized)
	}))
	defer srv.Close()
	r := worker(srv.URL+p.prefix+p.refresh, p, "tok", time.Now().Add(time.Second))
	if r.ok != 0 || r.failures[http.StatusUnauthorized] != 1 {
		t.Fatalf("ok %d, failures %v: a refused refresh must count as an error and end the chain", r.ok, r.failures)
	}
}
