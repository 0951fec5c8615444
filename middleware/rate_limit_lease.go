package middleware

import (
	"context"
	"sync"
	"time"
)

// Leases: a busy key does not cost every request a Redis round trip. When
// an instance has no token for a key it asks Redis (through the batching
// coalescer) for one per request waiting plus a few spare ones, taken from
// the key's one GCRA budget like any other request's; it then spends the
// spare tokens on the key's next requests without asking Redis, until they
// are gone or the lease expires. Tokens are counted in Redis before they
// are spent, so every instance together never admits more than the budget
// Redis hands out. A lease also asks for the requests that waited for the
// previous answer and got no token from it (they are on their way back).
//
// What a lease may cost, and why it stays small:
//   - beyond one token per request waiting for it, a lease has at most
//     maxLeaseTokens−1 spare tokens and fewer than Limit/50 (a limit under
//     100 gets no spare tokens at all), and its spare tokens are at most a
//     quarter of what the key has left once the waiting requests are
//     served: a key near its limit (4 or fewer left) is
//     decided by Redis one request at a time, and the 429 falls exactly at
//     the limit;
//   - a key gets spare tokens only once it is busy on this instance
//     (leaseWarmup leases in a row each spent within the lease TTL), then
//     its lease doubles while it keeps being spent within the TTL, and
//     shrinks to what was spent when a lease expires unspent: a key making
//     a request now and then never holds spare tokens;
//   - a lease expires leaseTTL after it arrived (min(Window/100, 100 ms));
//     its unspent tokens are then dropped, not given back: they stay
//     counted in Redis until GCRA earns them back. Until then another
//     instance may be refused while this one holds them (at most the lease
//     size − 1 per instance and key), and a token may be spent up to the
//     TTL after Redis counted it, so over any span the limiter admits at
//     most what GCRA admits over that span stretched by the TTL (1 % of
//     the window, at most 100 ms).
//
// RateLimit-Remaining of a request served from a lease is what Redis said
// was left when the lease was taken plus the lease's tokens still unspent,
// exact for one instance and an approximation across several (another
// instance's spending shows at this one's next lease); RateLimit-Reset
// counts down from Redis's answer; Retry-After of a 429 is always Redis's
// answer. A lease is spent even when Redis fails meanwhile (those requests
// were counted before it failed).
const (
	// A busy key's lease serves 64 requests per round trip: with 16 the
	// limiter still cost a real request 10 % (bench/ratelimit.sh), with 64
	// about 4 %. What more tokens cost is bounded
	// by Limit/leaseTokensPer and a quarter of what is left (above).
	maxLeaseTokens    = 64
	leaseTokensPer    = 50 // a lease has at most Limit/leaseTokensPer tokens
	maxLeaseTTL       = 100 * time.Millisecond
	leaseTTLPerWindow = 100 // and lives at most Window/leaseTTLPerWindow
	leaseWarmup       = 4
	leaseSweepEvery   = time.Second
)

// leaseTable holds one instance's leases, by Redis key.
type leaseTable struct {
	maxTokens int
	ttl       int64 // ns
	base      time.Time

	mu        sync.Mutex
	keys      map[string]*leaseEntry
	nextSweep int64 // ns since base
}

// leaseEntry is one key's lease and the lease on its way. Guarded by the
// table's mutex; times are ns since the table's base (monotonic).
type leaseEntry struct {
	left      int   // tokens of the lease not yet spent
	granted   int   // tokens the lease had
	remaining int   // what Redis had left once the lease was taken
	at        int64 // when the lease arrived
	fullAt    int64 // when the key's budget is full again, per that answer
	size      int   // tokens the next lease asks for, its sender's included
	hot       int   // leases in a row spent within the TTL
	backlog   int   // requests the last answer left without a token
	fetch     *leaseFetch
}

// leaseFetch is a lease on its way: one call of a limiter batch, which the
// requests arriving meanwhile for the same key wait for.
type leaseFetch struct {
	key     string
	spare   int // tokens asked beyond the requests waiting
	backlog int // requests the previous answer left waiting
	waiters int // requests waiting for the answer, beyond its sender
	need    int // 1 + waiters when the batch was sent

	ans  gcraAnswer
	err  error
	done chan struct{}
}

func newLeaseTable(limit int, window time.Duration) *leaseTable {
	return &leaseTable{
		maxTokens: min(maxLeaseTokens, max(1, limit/leaseTokensPer)),
		ttl:       int64(min(maxLeaseTTL, window/leaseTTLPerWindow)),
		base:      time.Now(),
		keys:      map[string]*leaseEntry{},
	}
}

func (t *leaseTable) now() int64 { return int64(time.Since(t.base)) }

// allow decides one request of key: from the key's lease when it has a
// token left, else from Redis's answer to the next lease, which it sends
// (or waits for, when one is on its way).
func (l *gcraLimiter) allow(ctx context.Context, key string) (gcraResult, error) {
	t := l.leases
	t.mu.Lock()
	now := t.now()
	e := t.keys[key]
	if e == nil {
		t.sweep(now)
		e = &leaseEntry{size: 1}
		t.keys[key] = e
	}
	var answered *leaseFetch // the last answer this request waited for
	for {
		if e.left > 0 && now-e.at < t.ttl {
			e.left--
			res := gcraResult{allowed: true, remaining: e.remaining + e.left, resetAfter: time.Duration(e.fullAt - now)}
			t.mu.Unlock()
			return res, nil
		}
		if answered != nil && answered.ans.granted < answered.need {
			// Redis refused requests that waited for this answer, and this
			// one got none of the tokens it granted.
			res := gcraResult{retryAfter: answered.ans.wait, resetAfter: answered.ans.resetAfter}
			t.mu.Unlock()
			return res, nil
		}
		f := e.fetch
		if f == nil {
			f = t.startLease(e, key, now)
			t.mu.Unlock()
			// Other requests may wait for this lease: a client that goes
			// away does not cancel it (the client's timeouts bound it).
			ans, err := l.batches.Do(context.WithoutCancel(ctx), f, l.send)
			t.mu.Lock()
			now = t.now()
			if e.fetch == f {
				e.fetch = nil
			}
			f.ans, f.err = ans, err
			if err == nil && ans.granted > 0 {
				e.granted, e.left, e.at = ans.granted, ans.granted, now
				e.remaining = l.remaining(ans.resetAfter)
				e.fullAt = now + int64(ans.resetAfter)
			}
			if err == nil && ans.granted >= f.need {
				// Requests that came after the batch left and find no
				// token: the next lease asks for them too.
				e.backlog = max(0, 1+f.waiters-ans.granted)
			}
			close(f.done)
		} else {
			f.waiters++
			t.mu.Unlock()
			<-f.done
			t.mu.Lock()
			now = t.now()
		}
		if f.err != nil {
			t.mu.Unlock()
			return gcraResult{}, f.err
		}
		answered = f
	}
}

// startLease sizes key's next lease from how its last one was spent and
// marks it on its way.
func (t *leaseTable) startLease(e *leaseEntry, key string, now int64) *leaseFetch {
	switch spent := e.granted - e.left; {
	case e.granted == 0: // the key's first lease here
	case e.left == 0 && now-e.at < t.ttl: // spent within the TTL: busy here
		e.hot++
		if e.hot >= leaseWarmup {
			e.size = min(t.maxTokens, 2*e.size)
		}
	case e.left > 0: // expired with tokens unspent: ask for what was spent
		e.size = max(1, spent)
		if spent <= 1 {
			e.hot = 0
		}
	default: // spent, and the next request came after the TTL
		e.hot = 0
	}
	f := &leaseFetch{key: key, spare: e.size - 1, backlog: e.backlog, done: make(chan struct{})}
	e.fetch, e.backlog = f, 0
	return f
}

// sweep forgets, at most once per leaseSweepEvery, the keys whose lease
// has expired and that have none on its way.
func (t *leaseTable) sweep(now int64) {
	if now < t.nextSweep {
		return
	}
	t.nextSweep = now + int64(leaseSweepEvery)
	for k, e := range t.keys {
		if e.fetch == nil && now-e.at >= t.ttl {
			delete(t.keys, k)
		}
	}
}
