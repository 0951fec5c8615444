#!/usr/bin/env bash
# Side-by-side HTTP load: examples/widgets (SQLite default, no Redis) against
# the PocketBase peer of ../shared/bench, same machine, same wrk command,
# alternating runs. Prints each run and the medians with their ratio.
#
#   bash bench/compare.sh              # RUNS=3 DUR=10s SEED=100000
#   RUNS=5 bash bench/compare.sh health list
#
# Needs wrk (apt-get install -y wrk) and ../shared/bench beside the checkout
# (SHARED=/path/to/shared to point elsewhere). Ports: AKPORT=8000, PBPORT=8090.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
SHARED=${SHARED:-$ROOT/../shared}
RUNS=${RUNS:-3}
DUR=${DUR:-10s}
SEED=${SEED:-100000}
AKPORT=${AKPORT:-8000}
PBPORT=${PBPORT:-8090}
WORKS=("${@:-health list create refresh}")
read -r -a WORKS <<<"${WORKS[*]}"
command -v wrk >/dev/null || { echo "wrk is not installed: apt-get install -y wrk" >&2; exit 1; }

work=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill -CONT "$p" 2>/dev/null; kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT

echo "building in $work" >&2
(cd "$ROOT" && go build -o "$work/widgets" ./examples/widgets && go build -o "$work/widgetseed" ./bench/widgetseed && go build -o "$work/authload" ./bench/authload)
(cd "$SHARED/bench/pocketbase" && go build -o "$work/pbserve" .)

wait_http() { for _ in $(seq 1 600); do curl -sf "$1" >/dev/null 2>&1 && return 0; sleep 0.2; done; echo "$1 did not answer" >&2; return 1; }

# PocketBase with SEED posts and its bench user.
"$work/pbserve" -seed "$SEED" -http 127.0.0.1:$PBPORT -dir "$work/pb" >"$work/pb.log" 2>&1 &
pids+=($!)
PBPID=$!
# appkernel: SEED widgets of one user, then the example service.
mkdir -p "$work/app"
TOKEN=$(cd "$work/app" && "$work/widgetseed" -n "$SEED")
(cd "$work/app" && PORT=$AKPORT exec "$work/widgets") >"$work/app.log" 2>&1 &
pids+=($!)
AKPID=$!
wait_http http://127.0.0.1:$PBPORT/api/health
wait_http http://127.0.0.1:$AKPORT/healthz
PBTOKEN=$(curl -s -X POST 127.0.0.1:$PBPORT/api/collections/users/auth-with-password \
  -H 'Content-Type: application/json' \
  -d '{"identity":"bench@example.com","password":"bench-password-123"}' | sed 's/.*"token":"\([^"]*\)".*/\1/')

# rate prints "req/s errors" of one wrk run; errors counts socket errors and non-2xx.
rate() {
  local out rps errs non2xx
  out=$("$@" 2>&1)
  rps=$(awk '/Requests\/sec/ {print $2}' <<<"$out")
  errs=$(awk '/Socket errors/ {gsub(",","");  print $4+$6+$8+$10}' <<<"$out")
  non2xx=$(awk '/Non-2xx/ {print $5}' <<<"$out")
  echo "${rps:-0} $(( ${errs:-0} + ${non2xx:-0} ))"
}

refresh_pb() {
  AUTH=$PBTOKEN rate wrk -t2 -c50 -d"$DUR" -s "$SHARED/bench/wrk/post-auth.lua" http://127.0.0.1:$PBPORT/api/collections/users/auth-refresh
}
refresh_ak() {
  local out
  out=$("$work/authload" -url http://127.0.0.1:$AKPORT -email bench@example.com -password bench-password-123 -c 50 -d "$DUR" 2>&1)
  echo "$(sed -n 's/.*rotations.*(\([0-9.]*\)\/s).*/\1/p' <<<"$out" | head -1) $(awk '$1 == "errors" {print $2}' <<<"$out" | head -1)"
}

# swap pauses PocketBase and resumes appkernel between the two halves of a run.
swap() { kill -STOP "$PBPID"; kill -CONT "$AKPID"; sleep 1; }

median() { sort -n | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }

printf '%-8s %-4s %12s %12s %8s\n' work run pocketbase appkernel ratio
for w in "${WORKS[@]}"; do
  pb_all=(); ak_all=()
  for i in $(seq 1 "$RUNS"); do
    # Each side is measured alone: the other server is paused (SIGSTOP), so
    # neither run pays for the other's background work (PocketBase writes
    # its request log after a burst).
    kill -STOP "$AKPID"; sleep 1
    case $w in
      health)
        pb=$(rate wrk -t2 -c50 -d"$DUR" http://127.0.0.1:$PBPORT/api/health); swap
        ak=$(rate wrk -t2 -c50 -d"$DUR" http://127.0.0.1:$AKPORT/healthz) ;;
      list)
        pb=$(rate wrk -t2 -c50 -d"$DUR" -H "Authorization: $PBTOKEN" "http://127.0.0.1:$PBPORT/api/collections/posts/records?perPage=20&skipTotal=1"); swap
        ak=$(rate wrk -t2 -c50 -d"$DUR" -H "Authorization: Bearer $TOKEN" "http://127.0.0.1:$AKPORT/widgets?limit=20") ;;
      create)
        pb=$(AUTH=$PBTOKEN rate wrk -t2 -c50 -d"$DUR" -s "$SHARED/bench/wrk/post-json.lua" http://127.0.0.1:$PBPORT/api/collections/posts/records); swap
        ak=$(AUTH="Bearer $TOKEN" rate wrk -t2 -c50 -d"$DUR" -s "$SHARED/bench/wrk/post-json.lua" http://127.0.0.1:$AKPORT/widgets) ;;
      refresh)
        pb=$(refresh_pb); swap
        ak=$(refresh_ak) ;;
      *) echo "unknown work $w (health list create refresh)" >&2; exit 2 ;;
    esac
    kill -CONT "$PBPID"
    pb_all+=("${pb%% *}"); ak_all+=("${ak%% *}")
    printf '%-8s %-4s %12s %12s %8s   errors: pb %s, ak %s   load %s\n' "$w" "$i" "${pb%% *}" "${ak%% *}" \
      "$(awk -v a="${ak%% *}" -v p="${pb%% *}" 'BEGIN {printf "%.2f", (p>0 ? a/p : 0)}')" "${pb##* }" "${ak##* }" "$(cut -d' ' -f1 /proc/loadavg)"
  done
  pbm=$(printf '%s\n' "${pb_all[@]}" | median); akm=$(printf '%s\n' "${ak_all[@]}" | median)
  printf '%-8s %-4s %12s %12s %8s\n' "$w" median "$pbm" "$akm" "$(awk -v a="$akm" -v p="$pbm" 'BEGIN {printf "%.2f", (p>0 ? a/p : 0)}')"
done
