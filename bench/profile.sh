#!/usr/bin/env bash
# Where the gateway's CPU and allocations go under load: runs the gateway
# in-process (evmgate-bench serve: the same gateway.New/Start as the evmgate
# binary, plus pprof on loopback) in front of two fake nodes, drives one
# workload, and prints the CPU profile's top, the allocation sites and the
# heap allocations per proxied request.
#
#   bench/profile.sh                 # blockNumber, c=16
#   WORKLOAD=block100k C=64 bench/profile.sh
#
# Everything listens on 127.0.0.1; every process started here is stopped by
# its PID on exit. Profiles stay in $OUT.
set -euo pipefail

WORKLOAD=${WORKLOAD:-blockNumber}
C=${C:-16}
SECONDS_PROFILED=${SECONDS_PROFILED:-6}
LOG_REQUESTS=${LOG_REQUESTS:-false}
TOP=${TOP:-30}
OUT=${OUT:-$(mktemp -d /tmp/evmgate-profile.XXXXXX)}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
mkdir -p "$OUT"

for tool in curl jq go awk; do
  command -v "$tool" >/dev/null || { echo "$tool is needed" >&2; exit 1; }
done

PIDS=()
cleanup() {
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
}
trap cleanup EXIT

(cd "$ROOT" && go build -o "$OUT/evmgate-bench" ./cmd/evmgate-bench)
BENCH=$OUT/evmgate-bench

wait_for() {
  local deadline=$((SECONDS + 15))
  until "$@" >/dev/null 2>&1; do
    if [ $SECONDS -ge $deadline ]; then
      echo "gave up waiting for: $*" >&2
      exit 1
    fi
    sleep 0.1
  done
}

"$BENCH" fakes -n 2 >"$OUT/fakes.urls" 2>"$OUT/fakes.err" &
FAKES_PID=$!
PIDS+=("$FAKES_PID")
have_nodes() { [ "$(grep -c http "$OUT/fakes.urls")" -ge 2 ]; }
wait_for have_nodes
mapfile -t NODES <"$OUT/fakes.urls"
mapfile -t PORTS < <("$BENCH" ports -n 2)

nodes=""
for n in "${NODES[@]}"; do nodes+="      - rpc_endpoint: $n"$'\n'; done
sed -e "s|@PORT@|${PORTS[0]}|" -e "s|@METRICS_PORT@|-1|" -e "s|@LOG_REQUESTS@|$LOG_REQUESTS|" "$ROOT/bench/evmgate.yaml.tmpl" |
  awk -v nodes="${nodes%$'\n'}" '{ if ($0 == "@NODES@") print nodes; else print }' >"$OUT/evmgate.yaml"

PPROF=http://127.0.0.1:${PORTS[1]}
"$BENCH" serve -config "$OUT/evmgate.yaml" -pprof "127.0.0.1:${PORTS[1]}" 2>"$OUT/serve.log" &
SERVE_PID=$!
PIDS+=("$SERVE_PID")
wait_for curl -sf -m 2 "$PPROF/debug/mallocs"
wait_for curl -sf -m 2 "http://127.0.0.1:${PORTS[0]}/ready"

curl -sf -o "$OUT/allocs-before.pb.gz" "$PPROF/debug/pprof/allocs"
MALLOCS_BEFORE=$(curl -sf "$PPROF/debug/mallocs")
curl -sf -o "$OUT/cpu.pb.gz" "$PPROF/debug/pprof/profile?seconds=$SECONDS_PROFILED" &
CURL_PID=$!
PIDS+=("$CURL_PID")
"$BENCH" load -label evmgate -url "http://127.0.0.1:${PORTS[0]}/bench" -workload "$WORKLOAD" -c "$C" \
  -warmup 500ms -d "$((SECONDS_PROFILED + 1))s" -pid "$SERVE_PID" -node-pid "$FAKES_PID" >"$OUT/result.json"
wait "$CURL_PID"
MALLOCS_AFTER=$(curl -sf "$PPROF/debug/mallocs")
curl -sf -o "$OUT/allocs-after.pb.gz" "$PPROF/debug/pprof/allocs"

TOTAL=$(jq .total_requests "$OUT/result.json")
echo "workload $WORKLOAD, c=$C, request logging $LOG_REQUESTS"
jq -r '"\(.rps | floor) req/s, p50 \(.p50_us | floor) µs, p99 \(.p99_us | floor) µs, gateway CPU \(.proxy_cpu_us * 10 | floor / 10) µs/req, errors \(.errors)"' "$OUT/result.json"
echo "heap allocations per proxied request (whole process, net/http included): $(( (MALLOCS_AFTER - MALLOCS_BEFORE) / TOTAL ))"
echo
echo "## CPU, top $TOP by flat time"
go tool pprof -top -nodecount="$TOP" "$OUT/cpu.pb.gz" 2>/dev/null | sed -n '/flat%/,$p'
echo
echo "## CPU, top $TOP by cumulative time"
go tool pprof -top -cum -nodecount="$TOP" "$OUT/cpu.pb.gz" 2>/dev/null | sed -n '/flat%/,$p'
echo
echo "## allocation sites during the run (objects)"
go tool pprof -top -sample_index=alloc_objects -nodecount="$TOP" -base "$OUT/allocs-before.pb.gz" \
  "$OUT/allocs-after.pb.gz" 2>/dev/null | sed -n '/flat%/,$p'
echo
echo "profiles: $OUT"
