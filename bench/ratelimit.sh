#!/usr/bin/env bash
# What the Redis rate limiter costs a real request: the example service with
# REDIS_URL, twice on one seeded SQLite file, one with rate limiting on (a
# limit never reached) and one with RATE_LIMIT_ENABLED=false, measured in
# turns by the same wrk command on GET /widgets?limit=20 (the other one
# paused with SIGSTOP), in pairs whose order alternates. Prints each pair
# and its ratio, the medians, and the median of the pairs' ratios (the
# figure quoted: a pair's two runs are seconds apart, so the machine's
# drift over the whole run cancels out of it).
#
#   bash bench/ratelimit.sh          # RUNS=3 DUR=10s SEED=100000 CONNS=50
#
# Needs wrk, jq and a Redis it may empty (REDIS=redis://127.0.0.1:6379/9).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
RUNS=${RUNS:-3}
DUR=${DUR:-10s}
SEED=${SEED:-100000}
CONNS=${CONNS:-50}
REDIS=${REDIS:-redis://127.0.0.1:6379/9}
ONPORT=${ONPORT:-8001}
OFFPORT=${OFFPORT:-8002}
command -v wrk >/dev/null || { echo "wrk is not installed: apt-get install -y wrk" >&2; exit 1; }

work=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill -CONT "$p" 2>/dev/null; kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT
fail() { echo "ratelimit.sh: CHECK FAILED: $*" >&2; exit 1; }
wait_http() { for _ in $(seq 1 600); do curl -sf "$1" >/dev/null 2>&1 && return 0; sleep 0.2; done; echo "$1 did not answer" >&2; return 1; }

(cd "$ROOT" && go build -o "$work/widgets" ./examples/widgets && go build -o "$work/widgetseed" ./bench/widgetseed)
redis-cli -u "$REDIS" flushdb >/dev/null
mkdir -p "$work/app"
TOKEN=$(cd "$work/app" && "$work/widgetseed" -n "$SEED")
start() { # port, RATE_LIMIT_ENABLED
  (cd "$work/app" && PORT=$1 REDIS_URL=$REDIS REDIS_PREFIX=ratelimit_bench_$1 RATE_LIMIT_ENABLED=$2 \
    RATE_LIMIT_REQUESTS=1000000000 exec "$work/widgets") >"$work/app-$1.log" 2>&1 &
  pids+=($!)
}
start "$ONPORT" true;  ONPID=${pids[-1]}
start "$OFFPORT" false; OFFPID=${pids[-1]}
wait_http "http://127.0.0.1:$ONPORT/healthz"; wait_http "http://127.0.0.1:$OFFPORT/healthz"
grep -q '"rate limiting: on' "$work/app-$ONPORT.log" || fail "the limited service has no rate limiting"
grep -q '"rate limiting: off' "$work/app-$OFFPORT.log" || fail "the unlimited service has rate limiting"
curl -sf -D - -o /dev/null "http://127.0.0.1:$ONPORT/widgets?limit=20" -H "Authorization: Bearer $TOKEN" | grep -qi '^ratelimit-limit' ||
  fail "the limited service answers without RateLimit headers"

run() { # port → req/s; any non-2xx or socket error fails
  local out errs
  out=$(wrk -t2 -c"$CONNS" -d"$DUR" -H "Authorization: Bearer $TOKEN" "http://127.0.0.1:$1/widgets?limit=20" 2>&1)
  errs=$(awk '/Socket errors/ {gsub(",", ""); print $4 + $6 + $8 + $10}' <<<"$out")
  if grep -q 'Non-2xx' <<<"$out" || [ "${errs:-0}" != 0 ]; then fail "port $1:"$'\n'"$out"; fi
  awk '/^Requests\/sec/ {print $2}' <<<"$out"
}
median() { sort -n | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
on_all=(); off_all=(); ratios=()
measure_off() { kill -STOP "$ONPID"; sleep 1; off=$(run "$OFFPORT"); kill -CONT "$ONPID"; }
measure_on() { kill -STOP "$OFFPID"; sleep 1; on=$(run "$ONPORT"); kill -CONT "$OFFPID"; }
printf '%-6s %12s %12s %8s\n' run "limiter off" "limiter on" ratio
for i in $(seq 1 "$RUNS"); do
  # Each run is a pair, its order alternating, so that a machine speeding
  # up or slowing down during the runs favours neither side.
  if ((i % 2)); then measure_off; measure_on; else measure_on; measure_off; fi
  ratio=$(awk -v a="$on" -v b="$off" 'BEGIN {printf "%.3f", a / b}')
  on_all+=("$on"); off_all+=("$off"); ratios+=("$ratio")
  printf '%-6s %12s %12s %8s   load %s\n' "$i" "$off" "$on" "$ratio" "$(cut -d' ' -f1 /proc/loadavg)"
done
offm=$(printf '%s\n' "${off_all[@]}" | median); onm=$(printf '%s\n' "${on_all[@]}" | median)
printf '%-6s %12s %12s %8s   (median of the pairs'"'"' ratios; ratio of the medians %s)\n' median "$offm" "$onm" \
  "$(printf '%s\n' "${ratios[@]}" | median)" "$(awk -v a="$onm" -v b="$offm" 'BEGIN {printf "%.3f", a / b}')"
