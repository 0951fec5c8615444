package broker

import "github.com/redis/go-redis/v9"

// Every script reads the clock with TIME so that leases and schedules use
// the server's clock, never the (possibly skewed) clocks of the clients.
// Each script touches the keys of one queue only; they share the queue's
// hash tag and so one Redis Cluster slot.

const luaNow = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
`

// enqueueNowScript stores a job that is runnable at once, has no unique
// key and a generated id (never in use, so not checked): the common case,
// and the hot path of every producer. Per call Redis does TIME, HSET (3
// fields) and LPUSH, the same work as a peer's enqueue; the clock is kept
// as the string Redis gave (seconds and milliseconds concatenated), since
// formatting a Lua number costs more than the rest of the script.
//
// A job hash already under the id means this call ran before and its reply
// was lost (go-redis then sends the command again): it answers as then.
//
// KEYS: 1 pending, 2 job hash
// ARGV: 1 id, 2 packed job (codec.go)
// Returns now (ms).
var enqueueNowScript = redis.NewScript(`
local enq = redis.call('HGET', KEYS[2], 'enq')
if enq then return tonumber(enq) end
local t = redis.call('TIME')
local now = t[1] .. string.sub(string.format('%06d', t[2]), 1, 3)
redis.call('HSET', KEYS[2], 'state', 'pending', 'enq', now, 'm', ARGV[2])
redis.call('LPUSH', KEYS[1], ARGV[1])
return tonumber(now)
`)

// enqueueScript stores a job with a caller-chosen id, a unique key or a
// run-at time and makes it pending or scheduled. A job hash already under
// the id decides first: a finished job (succeeded or dead) is replaced by
// the new one, which starts with no attempts, result, error or expiry and
// leaves the dead set; any other job is left untouched and the enqueue
// refused. (Generated ids go through enqueueNowScript unchecked when they
// can: a UUIDv7 is never reused.)
//
// The job hash keeps the call's token: a call that finds its own token ran
// before and lost its reply (go-redis then sends the command again), and
// answers as the first run did.
//
// KEYS: 1 pending, 2 scheduled, 3 job hash, 4 dead, [5 unique lock]
// ARGV: 1 id, 2 run-at ms (0 = now), 3 unique TTL ms, 4 packed job
// (codec.go), 5 the call's token, 6 delay ms (by this clock; 0 = ARGV 2)
// Returns now (ms) when the job is pending, -now when it is scheduled, the
// id of the job holding the unique lock (a string), or {state} when a job
// that has not finished holds the id.
var enqueueScript = redis.NewScript(`
local st = redis.call('HGET', KEYS[3], 'state')
if st and redis.call('HGET', KEYS[3], 'call') == ARGV[5] then
  local enq = tonumber(redis.call('HGET', KEYS[3], 'enq'))
  if st == 'scheduled' then return -enq end
  return enq
end
if st and st ~= 'succeeded' and st ~= 'dead' then return {st} end
local t = redis.call('TIME')
local nows = t[1] .. string.sub(string.format('%06d', t[2]), 1, 3)
local now = tonumber(nows)
local u = KEYS[5]
if u and not redis.call('SET', u, ARGV[1], 'NX', 'PX', ARGV[3]) then
  return redis.call('GET', u)
end
if st then
  redis.call('DEL', KEYS[3])
  redis.call('ZREM', KEYS[4], ARGV[1])
end
if u then redis.call('HSET', KEYS[3], 'uniq', u, 'uttl', ARGV[3]) end
local runat = ARGV[2]
if tonumber(ARGV[6]) > 0 then runat = string.format('%.0f', now + tonumber(ARGV[6])) end
if tonumber(runat) > now then
  redis.call('HSET', KEYS[3], 'state', 'scheduled', 'enq', nows, 'runat', runat, 'm', ARGV[4], 'call', ARGV[5])
  redis.call('ZADD', KEYS[2], runat, ARGV[1])
  return -now
end
redis.call('HSET', KEYS[3], 'state', 'pending', 'enq', nows, 'm', ARGV[4], 'call', ARGV[5])
redis.call('LPUSH', KEYS[1], ARGV[1])
return now
`)

// promote moves due scheduled jobs to pending (a Lua fragment).
const luaPromote = `
local function promote(pending, scheduled, prefix, now, limit)
  local due = redis.call('ZRANGEBYSCORE', scheduled, '-inf', now, 'LIMIT', 0, limit)
  if #due == 0 then return 0 end
  redis.call('ZREM', scheduled, unpack(due))
  for _, id in ipairs(due) do
    redis.call('HSET', prefix .. id, 'state', 'pending')
  end
  redis.call('LPUSH', pending, unpack(due))
  return #due
end
`

// fetchScript claims up to n pending jobs for the caller, giving each a
// lease and a run token, and returns what the worker needs to run them.
// The token tells this run from every other run of the job, including the
// runs of a fresh job stored later under the same id, whose attempts start
// again at 1: the renewals and the outcome of a run are accepted only
// while the job holds its token. Tokens come from a counter per queue, one
// INCRBY per call; the hash field is formatted with %d, since Redis would
// turn a Lua number past 1e14 into "1e+14" and so lose digits.
//
// KEYS: 1 pending, 2 active, 3 scheduled, 4 run counter
// ARGV: 1 n, 2 lease ms, 3 job key prefix
// Returns {now, id, attempt, run token, packed job, enqueued-at ms, ...}.
var fetchScript = redis.NewScript(luaNow + luaPromote + `
promote(KEYS[1], KEYS[3], ARGV[3], now, 200)
local ids = redis.call('RPOP', KEYS[1], ARGV[1])
local out = {now}
if not ids then return out end
local deadline = now + tonumber(ARGV[2])
local run = redis.call('INCRBY', KEYS[4], #ids) - #ids
local z = {}
for _, id in ipairs(ids) do
  local k = ARGV[3] .. id
  local f = redis.call('HMGET', k, 'm', 'enq', 'attempt')
  if f[1] then
    local a = tonumber(f[3] or '0') + 1
    run = run + 1
    redis.call('HSET', k, 'state', 'running', 'attempt', a, 'started', now, 'run', string.format('%d', run))
    z[#z + 1] = deadline
    z[#z + 1] = id
    out[#out + 1] = id
    out[#out + 1] = a
    out[#out + 1] = run
    out[#out + 1] = f[1]
    out[#out + 1] = f[2]
  end
end
if #z > 0 then redis.call('ZADD', KEYS[2], unpack(z)) end
return out
`)

// completeScript records the outcome of finished jobs. An outcome is only
// applied while its run still holds the job's lease (the job is active
// under that run token): a worker whose lease expired, and whose job was
// run again meanwhile, cannot overwrite a newer run, not even one of a
// fresh job under the same id.
//
// A released run ('l') takes back its attempt (it was given up, not
// tried) and puts its job back at the head of the pending list, or, with a
// delay, among the scheduled jobs.
//
// KEYS: 1 active, 2 scheduled, 3 dead, 4 pending
// ARGV: 1 job key prefix, 2 retention ms, then for each job: op ('s'
// succeeded, 'r' retry, 'd' dead, 'l' released), id, run token, data,
// delay ms, max.
// Returns the number of outcomes applied.
var completeScript = redis.NewScript(luaNow + `
local n = 0
for i = 3, #ARGV, 6 do
  local op, id, run, data = ARGV[i], ARGV[i + 1], ARGV[i + 2], ARGV[i + 3]
  local k = ARGV[1] .. id
  if redis.call('HGET', k, 'run') == run and redis.call('ZREM', KEYS[1], id) == 1 then
    if op == 's' then
      redis.call('HSET', k, 'state', 'succeeded', 'result', data, 'fin', now, 'max', ARGV[i + 5])
      redis.call('PEXPIRE', k, ARGV[2])
    elseif op == 'r' then
      local at = now + tonumber(ARGV[i + 4])
      redis.call('HSET', k, 'state', 'retrying', 'err', data, 'runat', at, 'max', ARGV[i + 5])
      redis.call('ZADD', KEYS[2], at, id)
    elseif op == 'l' then
      local a = math.max(0, tonumber(redis.call('HGET', k, 'attempt') or '1') - 1)
      local d = tonumber(ARGV[i + 4])
      if d > 0 then
        local at = now + d
        redis.call('HSET', k, 'state', 'scheduled', 'attempt', a, 'err', data, 'runat', at)
        redis.call('ZADD', KEYS[2], at, id)
      else
        redis.call('HSET', k, 'state', 'pending', 'attempt', a, 'err', data)
        redis.call('RPUSH', KEYS[4], id)
      end
    else
      redis.call('HSET', k, 'state', 'dead', 'err', data, 'fin', now, 'max', ARGV[i + 5])
      redis.call('ZADD', KEYS[3], now, id)
    end
    if op == 's' or op == 'd' then
      local u = redis.call('HGET', k, 'uniq')
      if u and redis.call('GET', u) == id then redis.call('DEL', u) end
    end
    n = n + 1
  end
end
return n
`)

// extendScript renews the leases of runs the caller still holds: a run
// whose token is no longer the job's (its lease expired and the job ran
// again) renews nothing.
//
// KEYS: 1 active
// ARGV: 1 lease ms, 2 job key prefix, then for each job: id, run token
var extendScript = redis.NewScript(luaNow + `
local deadline = now + tonumber(ARGV[1])
local z = {'XX'}
for i = 3, #ARGV, 2 do
  if redis.call('HGET', ARGV[2] .. ARGV[i], 'run') == ARGV[i + 1] then
    z[#z + 1] = deadline
    z[#z + 1] = ARGV[i]
  end
end
if #z == 1 then return 0 end
return redis.call('ZADD', KEYS[1], unpack(z))
`)

// maintainScript promotes due scheduled jobs and requeues jobs whose lease
// expired (their worker died or lost Redis). A requeued job keeps its
// attempt count; the worker that fetches it next decides whether it has
// attempts left.
//
// KEYS: 1 pending, 2 active, 3 scheduled
// ARGV: 1 job key prefix, 2 limit
// Returns {promoted, recovered, ms until the next scheduled job or -1}.
var maintainScript = redis.NewScript(luaNow + luaPromote + `
local limit = tonumber(ARGV[2])
local promoted = promote(KEYS[1], KEYS[3], ARGV[1], now, limit)
local lost = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', now, 'LIMIT', 0, limit)
if #lost > 0 then
  redis.call('ZREM', KEYS[2], unpack(lost))
  for _, id in ipairs(lost) do
    redis.call('HSET', ARGV[1] .. id, 'state', 'pending', 'err', 'lease expired: worker stopped or lost Redis while running the job')
  end
  redis.call('RPUSH', KEYS[1], unpack(lost))
end
local nxt = redis.call('ZRANGE', KEYS[3], 0, 0, 'WITHSCORES')
local wait = -1
if #nxt > 0 then wait = math.max(0, tonumber(nxt[2]) - now) end
return {promoted, #lost, wait}
`)

// retryDeadScript moves a dead job back to pending with fresh attempts. A
// job enqueued with a unique key takes its key back (it let go of it when
// it died); when another job holds the key now, the job stays dead.
//
// KEYS: 1 pending, 2 dead, 3 job hash
// ARGV: 1 id
// Returns 1, 0 when the job is not dead, or the id of the job holding its
// unique key.
var retryDeadScript = redis.NewScript(`
if not redis.call('ZSCORE', KEYS[2], ARGV[1]) then return 0 end
local u = redis.call('HGET', KEYS[3], 'uniq')
if u then
  local ttl = redis.call('HGET', KEYS[3], 'uttl') or '86400000'
  if not redis.call('SET', u, ARGV[1], 'NX', 'PX', ttl) then
    local holder = redis.call('GET', u)
    if holder and holder ~= ARGV[1] then return holder end
  end
end
redis.call('ZREM', KEYS[2], ARGV[1])
redis.call('HSET', KEYS[3], 'state', 'pending', 'attempt', 0)
redis.call('HDEL', KEYS[3], 'fin')
redis.call('LPUSH', KEYS[1], ARGV[1])
return 1
`)

// deleteDeadScript removes a dead job for good.
//
// KEYS: 1 dead, 2 job hash
// ARGV: 1 id
var deleteDeadScript = redis.NewScript(`
if redis.call('ZREM', KEYS[1], ARGV[1]) == 0 then return 0 end
redis.call('DEL', KEYS[2])
return 1
`)
