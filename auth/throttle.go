package auth

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// Login failure budgets (sliding windows). A client without a valid
// device token (see device.go) spends the account+IP budget and the
// account-wide one; a known device spends only its own.
const (
	accountIPFailures = 10 // per account and client IP ...
	accountIPWindow   = 15 * time.Minute
	accountFailures   = 100 // ... and per account from every unknown device
	accountWindow     = time.Hour
	deviceFailures    = 10 // per known device (or session) of an account
	deviceWindow      = 15 * time.Minute
)

// throttler counts failed password checks in sliding windows. An attempt
// reserves a failure before the (slow) password check, so concurrent
// attempts cannot overshoot the budget; a successful check gives the
// reservation back.
type throttler interface {
	// reserve records a tentative failure of c against each of its
	// budgets. It returns a *ThrottleError when one of them is spent.
	reserve(ctx context.Context, c client) (attempt, error)
	// succeeded gives the attempt's reservation back and clears the
	// per-client windows (account+IP, device).
	succeeded(ctx context.Context, a attempt) error
}

// client is who makes a password check: the account (a stable hash of the
// normalized email), the client IP (middleware.ClientKey) and, for a known
// device, its id ("" for an unknown one).
type client struct {
	account, ip, device string
}

type attempt struct {
	client
	id    string
	local bool // reserved in process memory while Redis was down
}

// budget is one sliding window a failure counts against.
type budget struct {
	key    string // below the account: "" (account-wide), "ip:…", "dev:…"
	window time.Duration
	limit  int
	reset  bool // a success clears the window (else it gives back its stamp)
}

// budgets returns the windows an attempt of c counts against. A known
// device is neither blocked by the account-wide budget (so a stranger
// cannot lock its owner out) nor spends it or the account+IP one.
func (c client) budgets() []budget {
	if c.device != "" {
		return []budget{{key: "dev:" + c.device, window: deviceWindow, limit: deviceFailures, reset: true}}
	}
	return []budget{
		{key: "ip:" + c.ip, window: accountIPWindow, limit: accountIPFailures, reset: true},
		{key: "", window: accountWindow, limit: accountFailures},
	}
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

// memoryThrottler keeps the windows in this process (no Redis configured,
// or Redis down).
type memoryThrottler struct {
	mu      sync.Mutex
	windows map[string]*window // account key + budget key → failures
	now     func() time.Time
	sweepAt int
}

type window struct {
	span   time.Duration
	stamps []stamp // oldest first
}

type stamp struct {
	at time.Time
	id string
}

func newMemoryThrottler(now func() time.Time) *memoryThrottler {
	return &memoryThrottler{windows: map[string]*window{}, now: now, sweepAt: 1024}
}

func memKey(account string, b budget) string { return account + "|" + b.key }

func (m *memoryThrottler) reserve(_ context.Context, c client) (attempt, error) {
	a := attempt{client: c, id: attemptID()}
	now := m.now()
	m.mu.Lock()
	defer m.mu.Unlock()
	if len(m.windows) >= m.sweepAt {
		m.sweep(now)
	}
	budgets := c.budgets()
	var wait time.Duration
	for _, b := range budgets {
		w := m.windows[memKey(c.account, b)]
		if w == nil {
			continue
		}
		w.stamps = prune(w.stamps, now.Add(-b.window))
		if n := len(w.stamps); n >= b.limit {
			wait = max(wait, w.stamps[n-b.limit].at.Add(b.window).Sub(now))
		}
	}
	if wait > 0 {
		return a, &ThrottleError{RetryAfter: wait}
	}
	for _, b := range budgets {
		k := memKey(c.account, b)
		w := m.windows[k]
		if w == nil {
			w = &window{span: b.window}
			m.windows[k] = w
		}
		w.stamps = append(w.stamps, stamp{at: now, id: a.id})
	}
	return a, nil
}

func (m *memoryThrottler) succeeded(_ context.Context, a attempt) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, b := range a.budgets() {
		k := memKey(a.account, b)
		w := m.windows[k]
		switch {
		case w == nil:
		case b.reset:
			delete(m.windows, k)
		default:
			for i, s := range w.stamps {
				if s.id == a.id {
					w.stamps = append(w.stamps[:i:i], w.stamps[i+1:]...)
					break
				}
			}
		}
	}
	return nil
}

// sweep drops empty and expired windows so memory stays bounded by the
// number of accounts and devices with recent failures.
func (m *memoryThrottler) sweep(now time.Time) {
	for k, w := range m.windows {
		if w.stamps = prune(w.stamps, now.Add(-w.span)); len(w.stamps) == 0 {
			delete(m.windows, k)
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
// ms), shared by every process of the service. The keys of an account
// share a hash tag, so the script also runs on Redis Cluster.
type redisThrottler struct {
	rdb    redis.UniversalClient
	prefix string
	now    func() time.Time
}

// reserveScript: KEYS are the windows; ARGV[1] now ms, ARGV[2] member,
// then per key its window ms and limit. Returns the wait in ms (0 =
// reserved in every window).
var reserveScript = redis.NewScript(`
local now, member = tonumber(ARGV[1]), ARGV[2]
local wait = 0
for i, key in ipairs(KEYS) do
  local win, lim = tonumber(ARGV[1 + 2*i]), tonumber(ARGV[2 + 2*i])
  redis.call('ZREMRANGEBYSCORE', key, '-inf', now - win)
  local n = redis.call('ZCARD', key)
  if n >= lim then
    local s = redis.call('ZRANGE', key, n - lim, n - lim, 'WITHSCORES')
    wait = math.max(wait, tonumber(s[2]) + win - now)
  end
end
if wait > 0 then return wait end
for i, key in ipairs(KEYS) do
  redis.call('ZADD', key, now, member)
  redis.call('PEXPIRE', key, ARGV[1 + 2*i])
end
return 0
`)

func (t *redisThrottler) key(account string, b budget) string {
	k := t.prefix + "login:{" + account + "}"
	if b.key != "" {
		k += ":" + b.key
	}
	return k
}

func (t *redisThrottler) reserve(ctx context.Context, c client) (attempt, error) {
	a := attempt{client: c, id: attemptID()}
	budgets := c.budgets()
	keys := make([]string, len(budgets))
	args := []any{t.now().UnixMilli(), a.id}
	for i, b := range budgets {
		keys[i] = t.key(c.account, b)
		args = append(args, strconv.FormatInt(b.window.Milliseconds(), 10), b.limit)
	}
	wait, err := reserveScript.Run(ctx, t.rdb, keys, args...).Int64()
	if err != nil {
		return a, fmt.Errorf("auth: login throttle: %w", err)
	}
	if wait > 0 {
		return a, &ThrottleError{RetryAfter: time.Duration(wait) * time.Millisecond}
	}
	return a, nil
}

func (t *redisThrottler) succeeded(ctx context.Context, a attempt) error {
	_, err := t.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		for _, b := range a.budgets() {
			if b.reset {
				p.Del(ctx, t.key(a.account, b))
			} else {
				p.ZRem(ctx, t.key(a.account, b), a.id)
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("auth: login throttle: %w", err)
	}
	return nil
}
