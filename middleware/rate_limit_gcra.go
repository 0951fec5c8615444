package middleware

import (
	"context"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"

	"appkernel/internal/coalesce"
)

// gcraScript runs GCRA for every key of KEYS in turn, on Redis's clock, so
// one call decides a whole batch (a key present twice is decided twice, in
// order). Times are whole microseconds; ARGV[1] is the emission interval
// (Window/Limit, rounded up so that rounding never grants more than the
// budget), ARGV[2] the burst offset (interval × Limit); then two numbers per
// key: need, the requests waiting for this answer, and spare, the tokens
// asked for beyond them (a lease the instance spends locally).
//
// A key grants min(need, available) tokens, and the spare ones only when
// every waiting request got one and only up to a quarter of what is then
// left, so that a key near its limit is decided one request
// at a time. It returns three integers per key: the tokens granted, the
// wait until one more would be granted (only when fewer than need were
// granted, else 0), and the time until the key's budget is full again.
// A stored TAT is written with %.0f: redis.call would format a number with
// %.14g and lose its last digits.
var gcraScript = redis.NewScript(`
local interval = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local out = {}
for i, key in ipairs(KEYS) do
  local need = tonumber(ARGV[1 + 2 * i])
  local spare = tonumber(ARGV[2 + 2 * i])
  local tat = tonumber(redis.call('GET', key)) or now
  if tat < now then tat = now end
  local avail = math.floor((now + burst - tat) / interval)
  local n = math.max(0, math.min(need, avail))
  if n == need and spare > 0 then
    n = n + math.max(0, math.min(spare, math.floor((avail - need) / 4)))
  end
  if n > 0 then
    tat = tat + n * interval
    redis.call('SET', key, string.format('%.0f', tat), 'PX', math.ceil((tat - now) / 1000))
  end
  local wait = 0
  if n < need then wait = tat + interval - burst - now end
  out[#out + 1] = n
  out[#out + 1] = wait
  out[#out + 1] = tat - now
end
return out
`)

// gcraResult is the limiter's answer for one request.
type gcraResult struct {
	allowed    bool
	remaining  int           // requests the key could still make now
	retryAfter time.Duration // refused: until a request would be allowed
	resetAfter time.Duration // until the key's whole budget is back
}

// gcraAnswer is Redis's answer for one key of a batch.
type gcraAnswer struct {
	granted    int
	wait       time.Duration // fewer granted than needed: until one more would be
	resetAfter time.Duration
}

// maxLimitersInFlight is how many limiter round trips one RateLimit runs
// at once. Requests arriving while it is busy wait and go together in the
// next one: under load a request costs a fraction of a round trip (one
// script call decides the whole batch), while a lone request still goes
// at once. One in flight (the jobs broker runs two) halves the script
// calls of two and costs less CPU in this process and in Redis at the
// same wall time (BenchmarkKernelRateLimit: 0.04 calls per request instead
// of 0.08 under 50 concurrent clients, before leases).
const maxLimitersInFlight = 1

// maxLimiterBatch bounds the keys of one script call.
const maxLimiterBatch = 128

// gcraCall is one lease request's part of a limiter batch.
type gcraCall = coalesce.Call[*leaseFetch, gcraAnswer]

// gcraLimiter decides requests from leases of each key's budget taken from
// Redis in coalesced batches (rate_limit_lease.go). A request never leaves
// its batch early: one already counted must not be lost.
type gcraLimiter struct {
	rdb      redis.UniversalClient
	single   bool // a plain client: a batch's keys may share one script call
	interval int64
	burst    int64
	batches  *coalesce.Coalescer[*leaseFetch, gcraAnswer]
	leases   *leaseTable
}

func newGCRALimiter(rdb redis.UniversalClient, limit int, window time.Duration) *gcraLimiter {
	interval := (window.Microseconds() + int64(limit) - 1) / int64(limit)
	_, single := rdb.(*redis.Client)
	return &gcraLimiter{rdb: rdb, single: single, interval: interval, burst: interval * int64(limit),
		batches: coalesce.New[*leaseFetch, gcraAnswer](maxLimitersInFlight, maxLimiterBatch, false),
		leases:  newLeaseTable(limit, window)}
}

// send runs the script for batch and fills in each call's answer: one call
// for all keys on a plain client, one per key in a pipeline otherwise
// (keys of a cluster live on different nodes). How many requests each
// lease must serve is read now, so that requests that arrived while the
// batch waited for its turn are counted in it.
func (l *gcraLimiter) send(ctx context.Context, batch []*gcraCall) {
	l.leases.mu.Lock()
	for _, c := range batch {
		f := c.In
		f.need = 1 + f.waiters
		// The previous answer's backlog not yet counted in need: spare
		// tokens, capped as such, for the requests on their way back.
		f.spare += max(0, f.backlog-f.need)
	}
	l.leases.mu.Unlock()
	if l.single || len(batch) == 1 {
		keys := make([]string, len(batch))
		args := make([]any, 2, 2+2*len(batch))
		args[0], args[1] = l.interval, l.burst
		for i, c := range batch {
			keys[i] = c.In.key
			args = append(args, c.In.need, c.In.spare)
		}
		vals, err := gcraScript.Run(ctx, l.rdb, keys, args...).Int64Slice()
		if err == nil && len(vals) != 3*len(batch) {
			err = fmt.Errorf("rate limit: script answered %d values for %d keys", len(vals), len(batch))
		}
		for i, c := range batch {
			if err != nil {
				c.Err = err
				continue
			}
			c.Out = gcraAnswerOf(vals[3*i:])
		}
		return
	}
	cmds := make([]*redis.Cmd, len(batch))
	_, _ = l.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, c := range batch {
			cmds[i] = gcraScript.Eval(ctx, p, []string{c.In.key}, l.interval, l.burst, c.In.need, c.In.spare)
		}
		return nil
	})
	for i, c := range batch {
		vals, err := cmds[i].Int64Slice()
		if err == nil && len(vals) != 3 {
			err = fmt.Errorf("rate limit: script answered %d values for one key", len(vals))
		}
		if err != nil {
			c.Err = err
			continue
		}
		c.Out = gcraAnswerOf(vals)
	}
}

func gcraAnswerOf(v []int64) gcraAnswer {
	return gcraAnswer{
		granted:    int(v[0]),
		wait:       time.Duration(v[1]) * time.Microsecond,
		resetAfter: time.Duration(v[2]) * time.Microsecond,
	}
}

// remaining is the number of requests the key could make once the budget
// is full again after resetAfter.
func (l *gcraLimiter) remaining(resetAfter time.Duration) int {
	return int(max(0, (l.burst-resetAfter.Microseconds())/l.interval))
}
