package auth

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// Login failure budgets (sliding windows).
const (
	accountIPFailures = 10 // per account and client IP ...
	accountIPWindow   = 15 * time.Minute
	accountFailures   = 100 // ... and per account from anywhere
	accountWindow     = time.Hour
)

// throttler counts failed password checks in sliding windows. An attempt
// reserves a failure before the (slow) password check, so concurrent
// attempts cannot overshoot the budget; a successful check gives the
// reservation back.
type throttler interface {
	// reserve records a tentative failure for account (a stable hash of the
	// normalized email) from ip. It returns a *ThrottleError when either
	// budget is spent.
	reserve(ctx context.Context, account, ip string) (attempt, error)
	// succeeded forgets the attempt and clears the account+IP window.
	succeeded(ctx context.Context, a attempt) error
}

type attempt struct {
	account, ip, id string
}

func accountKey(email string) string {
	sum := sha256.Sum256([]byte(email))
	return hex.EncodeToString(sum[:12])
}

func attemptID() string {
	var b [12]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// memoryThrottler keeps the windows in this process (no Redis configured).
type memoryThrottler struct {
	mu      sync.Mutex
	windows map[string][]stamp // key → failure times, oldest first
	now     func() time.Time
	sweepAt int
}

type stamp struct {
	at time.Time
	id string
}

func newMemoryThrottler(now func() time.Time) *memoryThrottler {
	return &memoryThrottler{windows: map[string][]stamp{}, now: now, sweepAt: 1024}
}

func (m *memoryThrottler) reserve(_ context.Context, account, ip string) (attempt, error) {
	a := attempt{account: account, ip: ip, id: attemptID()}
	now := m.now()
	m.mu.Lock()
	defer m.mu.Unlock()
	if len(m.windows) >= m.sweepAt {
		m.sweep(now)
	}
	kAcct, kIP := "a:"+account, "i:"+account+":"+ip
	acct := prune(m.windows[kAcct], now.Add(-accountWindow))
	byIP := prune(m.windows[kIP], now.Add(-accountIPWindow))
	m.windows[kAcct], m.windows[kIP] = acct, byIP
	var wait time.Duration
	if len(byIP) >= accountIPFailures {
		wait = max(wait, byIP[len(byIP)-accountIPFailures].at.Add(accountIPWindow).Sub(now))
	}
	if len(acct) >= accountFailures {
		wait = max(wait, acct[len(acct)-accountFailures].at.Add(accountWindow).Sub(now))
	}
	if wait > 0 {
		return a, &ThrottleError{RetryAfter: wait}
	}
	s := stamp{at: now, id: a.id}
	m.windows[kAcct] = append(acct, s)
	m.windows[kIP] = append(byIP, s)
	return a, nil
}

func (m *memoryThrottler) succeeded(_ context.Context, a attempt) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.windows, "i:"+a.account+":"+a.ip)
	kAcct := "a:" + a.account
	w := m.windows[kAcct]
	for i, s := range w {
		if s.id == a.id {
			m.windows[kAcct] = append(w[:i:i], w[i+1:]...)
			break
		}
	}
	return nil
}

// sweep drops empty and expired windows so memory stays bounded by the
// number of accounts with recent failures.
func (m *memoryThrottler) sweep(now time.Time) {
	for k, w := range m.windows {
		win := accountIPWindow
		if k[0] == 'a' {
			win = accountWindow
		}
		if w = prune(w, now.Add(-win)); len(w) == 0 {
			delete(m.windows, k)
		} else {
			m.windows[k] = w
		}
	}
	m.sweepAt = max(1024, 2*len(m.windows))
}

func prune(w []stamp, cutoff time.Time) []stamp {
	i := 0
	for i < len(w) && !w[i].at.After(cutoff) {
		i++
	}
	if i == len(w) {
		return nil
	}
	return w[i:]
}

// redisThrottler keeps the windows in Redis sorted sets (score = time in
// ms), shared by every process of the service. Both keys of an account
// share a hash tag, so the script also runs on Redis Cluster.
type redisThrottler struct {
	rdb    redis.UniversalClient
	prefix string
	now    func() time.Time
}

// reserveScript: KEYS[1] account+IP window, KEYS[2] account window.
// ARGV: now ms, ip window ms, ip limit, account window ms, account limit, member.
// Returns the wait in ms (0 = reserved).
var reserveScript = redis.NewScript(`
local now = tonumber(ARGV[1])
local ipWin, ipMax = tonumber(ARGV[2]), tonumber(ARGV[3])
local acWin, acMax = tonumber(ARGV[4]), tonumber(ARGV[5])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - ipWin)
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now - acWin)
local wait = 0
local n = redis.call('ZCARD', KEYS[1])
if n >= ipMax then
  local s = redis.call('ZRANGE', KEYS[1], n - ipMax, n - ipMax, 'WITHSCORES')
  wait = math.max(wait, tonumber(s[2]) + ipWin - now)
end
n = redis.call('ZCARD', KEYS[2])
if n >= acMax then
  local s = redis.call('ZRANGE', KEYS[2], n - acMax, n - acMax, 'WITHSCORES')
  wait = math.max(wait, tonumber(s[2]) + acWin - now)
end
if wait > 0 then return wait end
redis.call('ZADD', KEYS[1], now, ARGV[6])
redis.call('ZADD', KEYS[2], now, ARGV[6])
redis.call('PEXPIRE', KEYS[1], ipWin)
redis.call('PEXPIRE', KEYS[2], acWin)
return 0
`)

func (t *redisThrottler) keys(a attempt) (ipKey, acctKey string) {
	base := t.prefix + "login:{" + a.account + "}"
	return base + ":ip:" + a.ip, base
}

func (t *redisThrottler) reserve(ctx context.Context, account, ip string) (attempt, error) {
	a := attempt{account: account, ip: ip, id: attemptID()}
	ipKey, acctKey := t.keys(a)
	wait, err := reserveScript.Run(ctx, t.rdb, []string{ipKey, acctKey},
		t.now().UnixMilli(), accountIPWindow.Milliseconds(), accountIPFailures,
		accountWindow.Milliseconds(), accountFailures, a.id).Int64()
	if err != nil {
		return a, fmt.Errorf("auth: login throttle: %w", err)
	}
	if wait > 0 {
		return a, &ThrottleError{RetryAfter: time.Duration(wait) * time.Millisecond}
	}
	return a, nil
}

func (t *redisThrottler) succeeded(ctx context.Context, a attempt) error {
	ipKey, acctKey := t.keys(a)
	_, err := t.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.Del(ctx, ipKey)
		p.ZRem(ctx, acctKey, a.id)
		return nil
	})
	if err != nil {
		return fmt.Errorf("auth: login throttle: %w", err)
	}
	return nil
}
