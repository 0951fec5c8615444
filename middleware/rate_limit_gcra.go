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
// budget), ARGV[2] the burst offset (interval × Limit). It returns three
// integers per key: allowed (1/0), the wait until a request would be allowed
// (refused only, else 0), and the time until the key's budget is full again.
// A stored TAT is written with %.0f: redis.call would format a number with
// %.14g and lose its last digits.
var gcraScript = redis.NewScript(`
local interval = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local out = {}
for i, key in ipairs(KEYS) do
  local tat = tonumber(redis.call('GET', key)) or now
  if tat < now then tat = now end
  local new_tat = tat + interval
  local allow_at = new_tat - burst
  if now < allow_at then
    out[#out + 1] = 0
    out[#out + 1] = allow_at - now
    out[#out + 1] = tat - now
  else
    redis.call('SET', key, string.format('%.0f', new_tat), 'PX', math.ceil((new_tat - now) / 1000))
    out[#out + 1] = 1
    out[#out + 1] = 0
    out[#out + 1] = new_tat - now
  end
end
return out
`)

// gcraResult is the limiter's answer for one request.
type gcraResult struct {
	allowed    bool
	retryAfter time.Duration // refused: until a request would be allowed
	resetAfter time.Duration // until the key's whole budget is back
}

// maxLimitersInFlight is how many limiter round trips one RateLimit runs
// at once. Requests arriving while it is busy wait and go together in the
// next one: under load a request costs a fraction of a round trip (one
// script call decides the whole batch), while a lone request still goes
// at once. One in flight (the jobs broker runs two) halves the script
// calls of two and costs less CPU in this process and in Redis at the
// same wall time (BenchmarkKernelRateLimit: 0.04 calls per request instead
// of 0.08 under 50 concurrent clients).
const maxLimitersInFlight = 1

// maxLimiterBatch bounds the keys of one script call.
const maxLimiterBatch = 128

// gcraCall is one request's part of a limiter batch: its key in, its
// result out.
type gcraCall = coalesce.Call[string, gcraResult]

// gcraLimiter decides requests against Redis in coalesced batches. A
// request never leaves its batch early: one already counted must not be
// lost.
type gcraLimiter struct {
	rdb      redis.UniversalClient
	single   bool // a plain client: a batch's keys may share one script call
	interval int64
	burst    int64
	batches  *coalesce.Coalescer[string, gcraResult]
}

func newGCRALimiter(rdb redis.UniversalClient, limit int, window time.Duration) *gcraLimiter {
	interval := (window.Microseconds() + int64(limit) - 1) / int64(limit)
	_, single := rdb.(*redis.Client)
	return &gcraLimiter{rdb: rdb, single: single, interval: interval, burst: interval * int64(limit),
		batches: coalesce.New[string, gcraResult](maxLimitersInFlight, maxLimiterBatch, false)}
}

// allow decides one request of key: at once when a round trip slot is
// free, else with the next batch.
func (l *gcraLimiter) allow(ctx context.Context, key string) (gcraResult, error) {
	return l.batches.Do(ctx, key, l.send)
}

// send runs the script for batch and fills in each call's result: one call
// for all keys on a plain client, one per key in a pipeline otherwise
// (keys of a cluster live on different nodes).
func (l *gcraLimiter) send(ctx context.Context, batch []*gcraCall) {
	if l.single || len(batch) == 1 {
		keys := make([]string, len(batch))
		for i, c := range batch {
			keys[i] = c.In
		}
		vals, err := gcraScript.Run(ctx, l.rdb, keys, l.interval, l.burst).Int64Slice()
		if err == nil && len(vals) != 3*len(batch) {
			err = fmt.Errorf("rate limit: script answered %d values for %d keys", len(vals), len(batch))
		}
		for i, c := range batch {
			if err != nil {
				c.Err = err
				continue
			}
			c.Out = gcraResultOf(vals[3*i:])
		}
		return
	}
	cmds := make([]*redis.Cmd, len(batch))
	_, _ = l.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, c := range batch {
			cmds[i] = gcraScript.Eval(ctx, p, []string{c.In}, l.interval, l.burst)
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
		c.Out = gcraResultOf(vals)
	}
}

func gcraResultOf(v []int64) gcraResult {
	return gcraResult{
		allowed:    v[0] == 1,
		retryAfter: time.Duration(v[1]) * time.Microsecond,
		resetAfter: time.Duration(v[2]) * time.Microsecond,
	}
}

// remaining is the number of requests the key could make now.
func (l *gcraLimiter) remaining(res gcraResult) int {
	if !res.allowed {
		return 0
	}
	return int(max(0, (l.burst-res.resetAfter.Microseconds())/l.interval))
}
