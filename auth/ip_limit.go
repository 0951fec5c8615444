package auth

import (
	"net/http"
	"sync"
	"time"

	"appkernel/middleware"
)

// ipLimiter bounds the login and registration requests of each client IP
// in this process with GCRA (a token bucket of PerIPLimit requests that
// refills over PerIPWindow). It guards this process's hashing slots, so
// it lives in the process whether or not Redis is configured: a flood
// from one address is refused before it hashes, and the other clients'
// logins do not queue behind it.
type ipLimiter struct {
	interval time.Duration // one request earned back per interval
	burst    time.Duration // limit × interval
	now      func() time.Time

	mu      sync.Mutex
	tat     map[string]time.Time // client key → theoretical arrival time
	sweepAt int
}

func newIPLimiter(limit int, window time.Duration, now func() time.Time) *ipLimiter {
	iv := window / time.Duration(limit)
	return &ipLimiter{interval: iv, burst: iv * time.Duration(limit), now: now, tat: map[string]time.Time{}, sweepAt: 1024}
}

// allow counts a request of key and returns 0, or how long until it
// would be allowed (the request is then not counted).
func (l *ipLimiter) allow(key string) time.Duration {
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.tat) >= l.sweepAt {
		for k, t := range l.tat {
			if !t.After(now) {
				delete(l.tat, k)
			}
		}
		l.sweepAt = max(1024, 2*len(l.tat))
	}
	tat := l.tat[key]
	if tat.Before(now) {
		tat = now
	}
	next := tat.Add(l.interval)
	if over := next.Sub(now) - l.burst; over > 0 {
		return over
	}
	l.tat[key] = next
	return 0
}

// limitPerIP refuses a request of a client IP whose budget is spent with
// 429 rate_limited and Retry-After, before next does any work.
func (s *Service) limitPerIP(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if wait := s.perIP.allow(middleware.ClientKey(clientIP(r))); wait > 0 {
			s.throttled("ip")
			writeError(w, r, &ThrottleError{RetryAfter: wait, PerIP: true})
			return
		}
		next.ServeHTTP(w, r)
	})
}

// throttled tells Config.OnThrottled of a refused sign-in.
func (s *Service) throttled(reason string) {
	if s.cfg.OnThrottled != nil {
		s.cfg.OnThrottled(reason)
	}
}
