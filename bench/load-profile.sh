#!/usr/bin/env bash
# The Infura web server's staged load profile (k6 stages 10 → 200 → 500 →
# 200 → 50 → 10 users over 4 minutes), its durations scaled by TIME_SCALE,
# run by evmgate-bench over the REST API's three paths against the demo
# (three go-ethereum nodes in-process, a block a second, one node lagging
# now and then):
#
#   HTTP → HTTP          GET /devnet/blocknumber
#   HTTP → node WS       GET /devnet/ws/blocknumber
#   WebSocket → WS       eth_blockNumber messages on ws://…/devnet/socket2socket
#
#   bench/load-profile.sh                  # about 4 minutes on 2 cores
#   TIME_SCALE=0.1 bench/load-profile.sh   # about 1.5 minutes
#   PATHS="ws-ws http-http" bench/load-profile.sh
#
# Prints markdown tables (docs/load-profile.md). Everything listens on
# 127.0.0.1; the demo is stopped by its PID on exit. Results stay in $OUT.
set -euo pipefail

TIME_SCALE=${TIME_SCALE:-0.3}
USER_SCALE=${USER_SCALE:-1}
STAGES=${STAGES:-10s:10,30s:200,2m:500,1m:200,10s:50,10s:10}
PAUSE=${PAUSE:-5}
PATHS=${PATHS:-http-http http-ws ws-ws} # in this order
OUT=${OUT:-$(mktemp -d /tmp/evmgate-load-profile.XXXXXX)}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
mkdir -p "$OUT"

DEMO_PID=""
cleanup() {
  if [ -n "$DEMO_PID" ]; then
    kill "$DEMO_PID" 2>/dev/null || true
    wait "$DEMO_PID" 2>/dev/null || true
  fi
}
trap cleanup EXIT

echo "building into $OUT" >&2
(cd "$ROOT" && go build -o "$OUT/evmgate" ./cmd/evmgate && go build -o "$OUT/evmgate-bench" ./cmd/evmgate-bench)
BENCH=$OUT/evmgate-bench

mapfile -t PORTS < <("$BENCH" ports -n 2)
"$OUT/evmgate" demo -port "${PORTS[0]}" -metrics-port "${PORTS[1]}" >"$OUT/demo.out" 2>"$OUT/demo.log" &
DEMO_PID=$!
BASE=http://127.0.0.1:${PORTS[0]}/devnet
deadline=$((SECONDS + 300)) # the first build of go-ethereum is in the go build above
until curl -sf -m 2 "$BASE/blocknumber" | grep -q result; do
  if [ $SECONDS -ge $deadline ] || ! kill -0 "$DEMO_PID" 2>/dev/null; then
    echo "the demo did not answer; its log:" >&2
    tail -20 "$OUT/demo.log" >&2
    exit 1
  fi
  sleep 0.2
done

LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
RESULTS=$OUT/results.jsonl
: >"$RESULTS"
declare -A URL=([http-http]=$BASE/blocknumber [http-ws]=$BASE/ws/blocknumber [ws-ws]=ws://127.0.0.1:${PORTS[0]}/devnet/socket2socket)
declare -A WORKLOAD=([http-http]=restBlockNumber [http-ws]=restBlockNumber [ws-ws]=blockNumber)
for label in $PATHS; do
  if [ -z "${URL[$label]:-}" ]; then
    echo "PATHS: unknown path $label (use http-http, http-ws, ws-ws)" >&2
    exit 1
  fi
  sleep "$PAUSE" # let the previous path's connections close
  "$BENCH" load -profile staged -stages "$STAGES" -time-scale "$TIME_SCALE" -user-scale "$USER_SCALE" \
    -label "$label" -url "${URL[$label]}" -workload "${WORKLOAD[$label]}" >>"$RESULTS"
done

echo "machine: $(nproc) cores, $(awk '/MemTotal/ { printf "%.0f GB", $2 / 1048576 }' /proc/meminfo); load average before: $LOAD_BEFORE, after: $(cut -d' ' -f1-3 /proc/loadavg)"
echo
"$BENCH" report "$RESULTS"
echo >&2 "results: $RESULTS"
