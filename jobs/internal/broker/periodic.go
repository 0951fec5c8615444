package broker

import (
	"context"
	"errors"
	"strconv"

	"github.com/redis/go-redis/v9"
)

// PeriodicKey is the hash of a periodic task's schedule state: field
// "last" is the last tick (ms since the epoch) that was claimed.
func (b *Broker) PeriodicKey(name string) string { return b.prefix + "periodic:" + name }

// claimTick moves "last" from ARGV[1] to ARGV[2] when it still holds
// ARGV[1]; a missing "last" is set to ARGV[3] (the first sight of a
// schedule starts from now, it does not run). It returns 1 when claimed.
var claimTick = redis.NewScript(`
local last = redis.call('HGET', KEYS[1], 'last')
if not last then
  redis.call('HSET', KEYS[1], 'last', ARGV[3])
  return 0
end
if last ~= ARGV[1] then return 0 end
redis.call('HSET', KEYS[1], 'last', ARGV[2])
return 1
`)

// LastTick returns the last claimed tick of a periodic task (ms), or
// ok=false when it was never seen.
func (b *Broker) LastTick(ctx context.Context, name string) (ms int64, ok bool, err error) {
	s, err := b.rdb.HGet(ctx, b.PeriodicKey(name), "last").Result()
	if errors.Is(err, redis.Nil) {
		return 0, false, nil
	}
	if err != nil {
		return 0, false, err
	}
	ms, err = strconv.ParseInt(s, 10, 64)
	return ms, err == nil, err
}

// ClaimTick claims tick (ms) for a periodic task whose last claimed tick
// was last: of all callers, exactly one gets true. With seen=false (no
// last tick yet) it records now (ms) as the last tick and claims nothing.
func (b *Broker) ClaimTick(ctx context.Context, name string, last, tick, now int64, seen bool) (bool, error) {
	from := strconv.FormatInt(last, 10)
	if !seen {
		from = "" // never equal to a stored value
	}
	n, err := claimTick.Run(ctx, b.rdb, []string{b.PeriodicKey(name)},
		from, strconv.FormatInt(tick, 10), strconv.FormatInt(now, 10)).Int()
	return n == 1, err
}

// UnclaimTick gives tick back (sets "last" to last again) when its job
// could not be enqueued, unless another tick was claimed since.
func (b *Broker) UnclaimTick(ctx context.Context, name string, tick, last int64) error {
	return claimTick.Run(ctx, b.rdb, []string{b.PeriodicKey(name)},
		strconv.FormatInt(tick, 10), strconv.FormatInt(last, 10), strconv.FormatInt(last, 10)).Err()
}
