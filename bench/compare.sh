#!/usr/bin/env bash
# Side-by-side HTTP load: examples/widgets (SQLite default, no Redis) against
# the PocketBase peer of bench/pocketbase (the quick start's widget as its
# "posts" collection), same machine, same load tool for both sides of each
# row, alternating runs. Prints each run and the medians with their ratio.
#
#   bash bench/compare.sh              # RUNS=3 DUR=10s SEED=100000
#   RUNS=5 bash bench/compare.sh health list
#   RUNS=1 DUR=2s SEED=2000 bash bench/compare.sh create   # a quick check
#
# Every run is checked to have done the same work on both sides, and the
# script stops with "CHECK FAILED" and exit status 1 otherwise, so a silent
# 4xx or an empty answer can never count as speed:
#   - every response of wrk is 2xx (no "Non-2xx or 3xx", no socket error),
#     and authload reports no error;
#   - list: one request before the run returns the same, non-zero number of
#     widgets on both sides;
#   - create: the records each side holds grew by at least the responses wrk
#     counted, and by no more than those plus the requests cut off in flight
#     at the end (one per connection);
#   - refresh: authload drives both sides and each completed refreshes.
#
# The health row also measures the floor, bench/barehealth (plain net/http
# sending the same bytes with the kernel's server timeouts), and prints
# appkernel's share of it.
#
# Needs wrk (apt-get install -y wrk), curl and jq. Ports: AKPORT=8000, PBPORT=8090, BAREPORT=8095.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
RUNS=${RUNS:-3}
DUR=${DUR:-10s}
SEED=${SEED:-100000}
AKPORT=${AKPORT:-8000}
PBPORT=${PBPORT:-8090}
BAREPORT=${BAREPORT:-8095}
CONNS=50
WORKS=("${@:-health list create refresh}")
read -r -a WORKS <<<"${WORKS[*]}"
for tool in wrk curl jq; do
  command -v "$tool" >/dev/null || { echo "$tool is not installed (apt-get install -y $tool)" >&2; exit 1; }
done
[ "$SEED" -ge 1 ] || { echo "SEED must be at least 1: the list rows compare non-empty pages" >&2; exit 2; }
for w in "${WORKS[@]}"; do
  case $w in health | list | create | refresh) ;; *) echo "unknown work $w (health list create refresh)" >&2; exit 2 ;; esac
done

work=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill -CONT "$p" 2>/dev/null; kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT

fail() { echo "compare.sh: CHECK FAILED: $*" >&2; exit 1; }

echo "building in $work" >&2
(cd "$ROOT" && go build -o "$work/widgets" ./examples/widgets && go build -o "$work/widgetseed" ./bench/widgetseed &&
  go build -o "$work/authload" ./bench/authload && go build -o "$work/barehealth" ./bench/barehealth)
(cd "$ROOT/bench/pocketbase" && go build -o "$work/pbserve" .)

wait_http() { for _ in $(seq 1 600); do curl -sf "$1" >/dev/null 2>&1 && return 0; sleep 0.2; done; echo "$1 did not answer" >&2; return 1; }

AK=http://127.0.0.1:$AKPORT
PB=http://127.0.0.1:$PBPORT
EMAIL=bench@example.com
PASSWORD=bench-password-123
# PocketBase with SEED posts of the bench user.
"$work/pbserve" -seed "$SEED" -email "$EMAIL" -password "$PASSWORD" -http 127.0.0.1:$PBPORT -dir "$work/pb" >"$work/pb.log" 2>&1 &
pids+=($!)
PBPID=$!
# appkernel: SEED widgets of the same user, then the example service.
mkdir -p "$work/app"
TOKEN=$(cd "$work/app" && "$work/widgetseed" -n "$SEED" -email "$EMAIL" -password "$PASSWORD")
(cd "$work/app" && PORT=$AKPORT exec "$work/widgets") >"$work/app.log" 2>&1 &
pids+=($!)
AKPID=$!
# The floor of the health row, paused except while it is measured.
"$work/barehealth" -http 127.0.0.1:$BAREPORT >"$work/bare.log" 2>&1 &
pids+=($!)
BAREPID=$!
BARE=http://127.0.0.1:$BAREPORT
wait_http $PB/api/health
wait_http $AK/healthz
wait_http $BARE/healthz
kill -STOP "$BAREPID"
PBTOKEN=$(curl -sf -X POST $PB/api/collections/users/auth-with-password -H 'Content-Type: application/json' \
  -d "{\"identity\":\"$EMAIL\",\"password\":\"$PASSWORD\"}" | jq -r .token)
[ -n "$PBTOKEN" ] && [ "$PBTOKEN" != null ] || fail "no PocketBase token"

AK_LIST="$AK/widgets?limit=20"
PB_LIST="$PB/api/collections/posts/records?perPage=20&skipTotal=1&sort=-created,-id"

# load runs wrk (or authload) for one side and sets RPS and DONE (the
# responses it completed); side names the side in a failed check. Any
# error or non-2xx answer fails the script.
load_wrk() {
  local side=$1 out errs; shift
  out=$(wrk -t2 -c$CONNS -d"$DUR" "$@" 2>&1) || fail "$side: wrk failed: $out"
  RPS=$(awk '/^Requests\/sec/ {print $2}' <<<"$out")
  DONE=$(awk '/requests in/ {print $1}' <<<"$out")
  errs=$(awk '/Socket errors/ {gsub(",", ""); print $4 + $6 + $8 + $10}' <<<"$out")
  if grep -q 'Non-2xx' <<<"$out" || [ "${errs:-0}" != 0 ] || [ "${DONE:-0}" -le 0 ]; then
    fail "$side: not every request succeeded with 2xx:"$'\n'"$out"
  fi
}
load_refresh() {
  local side=$1 peer=$2 url=$3 out errs
  out=$("$work/authload" -peer "$peer" -url "$url" -email "$EMAIL" -password "$PASSWORD" -c $CONNS -d "$DUR" 2>&1) || fail "$side: authload failed: $out"
  RPS=$(sed -n 's/^ *refreshes *[0-9]* (\([0-9.]*\)\/s).*/\1/p' <<<"$out")
  DONE=$(awk '$1 == "refreshes" {print $2}' <<<"$out")
  errs=$(awk '$1 == "errors" {print $2}' <<<"$out")
  if [ "${errs:-1}" != 0 ] || [ "${DONE:-0}" -le 0 ]; then
    fail "$side: not every refresh succeeded:"$'\n'"$out"
  fi
}

# Counts of what each side holds and returns, for the checks.
ak_records() { (cd "$work/app" && "$work/widgetseed" -count -email "$EMAIL"); }
pb_records() { curl -sf "$PB/api/collections/posts/records?perPage=1" -H "Authorization: $PBTOKEN" | jq -e .totalItems; }
ak_page() { curl -sf "$AK_LIST" -H "Authorization: Bearer $TOKEN" | jq -e '.widgets | length'; }
pb_page() { curl -sf "$PB_LIST" -H "Authorization: $PBTOKEN" | jq -e '.items | length'; }

# created checks that side's records grew by what its run completed.
created() {
  local side=$1 before=$2 after=$3 done=$4 n=$(($3 - $2))
  if [ "$n" -lt "$done" ] || [ "$n" -gt $((done + CONNS)) ]; then
    fail "$side: $done creates answered 2xx, but its records went from $before to $after"
  fi
  echo "$n"
}

# swap pauses PocketBase and resumes appkernel between the two halves of a run.
swap() { kill -STOP "$PBPID"; kill -CONT "$AKPID"; sleep 1; }

median() { sort -n | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
ratio() { awk -v a="$1" -v p="$2" 'BEGIN {printf "%.2f", (p > 0 ? a / p : 0)}'; }

printf '%-8s %-4s %12s %12s %8s\n' work run pocketbase appkernel ratio
for w in "${WORKS[@]}"; do
  pb_all=(); ak_all=(); bare_all=()
  for i in $(seq 1 "$RUNS"); do
    check=""
    case $w in
      list)
        pbn=$(pb_page) || fail "pocketbase: the list request failed"
        akn=$(ak_page) || fail "appkernel: the list request failed"
        [ "$pbn" -gt 0 ] && [ "$pbn" = "$akn" ] || fail "list pages differ: pocketbase returns $pbn posts, appkernel $akn widgets"
        check="both return $akn rows" ;;
      create)
        pb_before=$(pb_records) || fail "pocketbase: cannot count posts"
        ak_before=$(ak_records) || fail "appkernel: cannot count widgets" ;;
    esac
    # Each side is measured alone: the other server is paused (SIGSTOP), so
    # neither run pays for the other's background work (PocketBase writes
    # its request log after a burst).
    kill -STOP "$AKPID"; sleep 1
    case $w in
      health)
        load_wrk pocketbase $PB/api/health; pb=$RPS; swap
        load_wrk appkernel $AK/healthz; ak=$RPS
        kill -STOP "$AKPID"; kill -CONT "$BAREPID"; sleep 1
        load_wrk net/http $BARE/healthz; bare=$RPS
        kill -STOP "$BAREPID"; kill -CONT "$AKPID"
        bare_all+=("$bare")
        check="net/http alone $bare, appkernel $(ratio "$ak" "$bare") of it" ;;
      list)
        load_wrk pocketbase -H "Authorization: $PBTOKEN" "$PB_LIST"; pb=$RPS; swap
        load_wrk appkernel -H "Authorization: Bearer $TOKEN" "$AK_LIST"; ak=$RPS ;;
      create)
        AUTH=$PBTOKEN load_wrk pocketbase -s "$ROOT/bench/wrk/post-json.lua" $PB/api/collections/posts/records; pb=$RPS; pb_done=$DONE; swap
        AUTH="Bearer $TOKEN" load_wrk appkernel -s "$ROOT/bench/wrk/post-json.lua" $AK/widgets; ak=$RPS; ak_done=$DONE ;;
      refresh)
        load_refresh pocketbase pocketbase $PB; pb=$RPS; swap
        load_refresh appkernel appkernel $AK; ak=$RPS ;;
    esac
    kill -CONT "$PBPID"
    if [ "$w" = create ]; then
      sleep 1 # requests cut off at the end of a run finish now
      pb_after=$(pb_records) || fail "pocketbase: cannot count posts"
      ak_after=$(ak_records) || fail "appkernel: cannot count widgets"
      pbc=$(created pocketbase "$pb_before" "$pb_after" "$pb_done")
      akc=$(created appkernel "$ak_before" "$ak_after" "$ak_done")
      check="created: pocketbase $pbc, appkernel $akc"
    fi
    pb_all+=("$pb"); ak_all+=("$ak")
    printf '%-8s %-4s %12s %12s %8s   all 2xx; %s   load %s\n' "$w" "$i" "$pb" "$ak" "$(ratio "$ak" "$pb")" \
      "${check:-checked}" "$(cut -d' ' -f1 /proc/loadavg)"
  done
  pbm=$(printf '%s\n' "${pb_all[@]}" | median); akm=$(printf '%s\n' "${ak_all[@]}" | median)
  if [ "$w" = health ]; then
    barem=$(printf '%s\n' "${bare_all[@]}" | median)
    printf '%-8s %-4s %12s %12s %8s   net/http alone %s: %s PocketBase; appkernel %s of it\n' "$w" median "$pbm" "$akm" \
      "$(ratio "$akm" "$pbm")" "$barem" "$(ratio "$barem" "$pbm")" "$(ratio "$akm" "$barem")"
  else
    printf '%-8s %-4s %12s %12s %8s\n' "$w" median "$pbm" "$akm" "$(ratio "$akm" "$pbm")"
  fi
done
