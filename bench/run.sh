#!/usr/bin/env bash
# End-to-end load benchmark: evmgate (request logging off and on), HAProxy
# and no proxy at all, in front of the same two fake nodes, for three
# workloads at two concurrencies. Prints markdown tables (docs/benchmarks.md).
#
#   bench/run.sh                     # about 4 minutes on 2 cores
#   ROUNDS=1 DURATION=3s bench/run.sh
#
# Each (workload, concurrency) runs every target back to back, ROUNDS times,
# the order reversed every other round; the report keeps each target's
# fastest round: other work on a shared machine only ever slows a round, so
# the fastest is the least disturbed.
#
# Everything listens on 127.0.0.1; every process started here is stopped by
# its PID on exit. Results stay in $OUT (a temporary directory by default).
set -euo pipefail

DURATION=${DURATION:-2500ms}
WARMUP=${WARMUP:-400ms}
ROUNDS=${ROUNDS:-3}
CONCURRENCY=${CONCURRENCY:-"16 64"}
WORKLOADS=${WORKLOADS:-"blockNumber batch10 block100k"}
OUT=${OUT:-$(mktemp -d /tmp/evmgate-bench.XXXXXX)}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
mkdir -p "$OUT"

for tool in curl go awk; do
  command -v "$tool" >/dev/null || { echo "$tool is needed" >&2; exit 1; }
done

PIDS=()
cleanup() {
  for pid in "${PIDS[@]}"; do
    kill "$pid" 2>/dev/null || true
  done
  for pid in "${PIDS[@]}"; do
    wait "$pid" 2>/dev/null || true
  done
}
trap cleanup EXIT

if ! command -v haproxy >/dev/null; then
  if [ "$(id -u)" = 0 ]; then
    echo "installing haproxy (Debian package)" >&2
    apt-get update -qq >/dev/null && apt-get install -y -qq haproxy >/dev/null
  else
    echo "haproxy is not installed: apt-get install haproxy" >&2
    exit 1
  fi
fi

echo "building into $OUT" >&2
(cd "$ROOT" && go build -o "$OUT/evmgate" ./cmd/evmgate && go build -o "$OUT/evmgate-bench" ./cmd/evmgate-bench)
BENCH=$OUT/evmgate-bench

# wait_for CMD...: retry CMD until it succeeds, for at most 15 s.
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

rpc_ok() {
  curl -sf -m 2 -H 'Content-Type: application/json' \
    -d '{"jsonrpc":"2.0","id":1,"method":"eth_blockNumber","params":[]}' "$1" | grep -q result
}

# Fake nodes, in a process of their own so their CPU time is counted apart.
"$BENCH" fakes -n 2 >"$OUT/fakes.urls" 2>"$OUT/fakes.err" &
FAKES_PID=$!
PIDS+=("$FAKES_PID")
have_nodes() { [ "$(grep -c http "$OUT/fakes.urls")" -ge 2 ]; }
wait_for have_nodes
mapfile -t NODES <"$OUT/fakes.urls"
DIRECT=$(IFS=,; echo "${NODES[*]}")

mapfile -t PORTS < <("$BENCH" ports -n 3)

# evmgate_config PORT LOG_REQUESTS FILE
evmgate_config() {
  local nodes="" n
  for n in "${NODES[@]}"; do nodes+="      - rpc_endpoint: $n"$'\n'; done
  sed -e "s|@PORT@|$1|" -e "s|@LOG_REQUESTS@|$2|" "$ROOT/bench/evmgate.yaml.tmpl" |
    awk -v nodes="${nodes%$'\n'}" '{ if ($0 == "@NODES@") print nodes; else print }' >"$3"
}
evmgate_config "${PORTS[0]}" false "$OUT/evmgate.yaml"
evmgate_config "${PORTS[1]}" true "$OUT/evmgate-log.yaml"

servers="" i=0
for n in "${NODES[@]}"; do
  i=$((i + 1))
  servers+="    server node$i ${n#http://}"$'\n'
done
sed -e "s|@PORT@|${PORTS[2]}|" "$ROOT/bench/haproxy.cfg.tmpl" |
  awk -v s="${servers%$'\n'}" '{ if ($0 == "@SERVERS@") print s; else print }' >"$OUT/haproxy.cfg"

"$OUT/evmgate" -config "$OUT/evmgate.yaml" 2>"$OUT/evmgate.log" &
EVMGATE_PID=$!
PIDS+=("$EVMGATE_PID")
"$OUT/evmgate" -config "$OUT/evmgate-log.yaml" 2>"$OUT/evmgate-requests.log" &
EVMGATE_LOG_PID=$!
PIDS+=("$EVMGATE_LOG_PID")
haproxy -db -f "$OUT/haproxy.cfg" >"$OUT/haproxy.log" 2>&1 &
HAPROXY_PID=$!
PIDS+=("$HAPROXY_PID")

EVMGATE_URL=http://127.0.0.1:${PORTS[0]}/bench
EVMGATE_LOG_URL=http://127.0.0.1:${PORTS[1]}/bench
HAPROXY_URL=http://127.0.0.1:${PORTS[2]}/
wait_for rpc_ok "$EVMGATE_URL"
wait_for rpc_ok "$EVMGATE_LOG_URL"
wait_for rpc_ok "$HAPROXY_URL"
wait_for curl -sf -m 2 "http://127.0.0.1:${PORTS[0]}/ready"

rss_mb() { awk -v k="$2:" '$1 == k { printf "%.1f", $2 / 1024 }' "/proc/$1/status"; }
sleep 2 # idle: a few health probes have run
IDLE_RSS="evmgate idle RSS: $(rss_mb "$EVMGATE_PID" VmRSS) MB; HAProxy idle RSS: $(rss_mb "$HAPROXY_PID" VmRSS) MB"
echo "$IDLE_RSS" >&2

LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
RESULTS=$OUT/results.jsonl
: >"$RESULTS"
TARGETS="haproxy $HAPROXY_URL $HAPROXY_PID
evmgate $EVMGATE_URL $EVMGATE_PID
evmgate+log $EVMGATE_LOG_URL $EVMGATE_LOG_PID
direct $DIRECT 0"
for w in $WORKLOADS; do
  for c in $CONCURRENCY; do
    for round in $(seq "$ROUNDS"); do
      order=$TARGETS
      if [ $((round % 2)) = 0 ]; then order=$(tac <<<"$TARGETS"); fi
      while read -r label url pid; do
        "$BENCH" load -label "$label" -url "$url" -workload "$w" -c "$c" -d "$DURATION" -warmup "$WARMUP" \
          -pid "$pid" -node-pid "$FAKES_PID" >>"$RESULTS"
      done <<<"$order"
    done
  done
done

echo
echo "Machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//'); $(go version | cut -d' ' -f3); $(haproxy -v | head -1 | cut -d' ' -f1-3)"
echo "Runs: $WARMUP warm-up + $DURATION measured, fastest of $ROUNDS rounds; load generator, proxy and both fake nodes share the cores; load average before: $LOAD_BEFORE."
echo
"$BENCH" report "$RESULTS"
echo
echo "$IDLE_RSS"
echo "evmgate peak RSS after the runs: $(rss_mb "$EVMGATE_PID" VmHWM) MB (logging instance: $(rss_mb "$EVMGATE_LOG_PID" VmHWM) MB); request log written: $(du -h "$OUT/evmgate-requests.log" | cut -f1)"
echo "raw results: $RESULTS"
rm -f "$OUT/evmgate-requests.log"
