#!/usr/bin/env bash
# End-to-end load benchmark: evmgate (request logging off and on), HAProxy,
# go-floor (evmgate-bench floor: the least a Go proxy does per call, a
# yardstick) and no proxy at all, in front of the same two fake nodes, for three
# workloads at two concurrencies, then one client's eth_blockNumber latency
# through evmgate, HAProxy, go-floor and no proxy. Prints markdown tables
# (docs/benchmarks.md).
#
#   bench/run.sh                     # about 5 minutes on 2 cores
#   ROUNDS=1 DURATION=3s bench/run.sh
#   LATENCY=0 bench/run.sh           # without the one-client runs
#
# evmgate is built as operators deploy it (go build -tags nodemo). Its
# allocations per call come from its own /metrics (go_memstats_mallocs_total,
# read at both ends of each window); its peak RSS is the VmHWM of a process
# started fresh just before the block100k runs at 64 clients.
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
LATENCY=${LATENCY:-1}
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
(cd "$ROOT" && go build -tags nodemo -o "$OUT/evmgate" ./cmd/evmgate && go build -o "$OUT/evmgate-bench" ./cmd/evmgate-bench)
REV=$(cd "$ROOT" && git rev-parse --short HEAD 2>/dev/null || echo unknown)
if [ "$REV" != unknown ] && [ -n "$(cd "$ROOT" && git status --porcelain 2>/dev/null)" ]; then REV="$REV+changes"; fi
BUILD="go build -tags nodemo ./cmd/evmgate (as deployed, without the demo) at $REV"
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

# evmgate, evmgate+log, HAProxy, the two evmgate metrics listeners, go-floor.
mapfile -t PORTS < <("$BENCH" ports -n 6)

# evmgate_config PORT METRICS_PORT LOG_REQUESTS FILE
evmgate_config() {
  local nodes="" n
  for n in "${NODES[@]}"; do nodes+="      - rpc_endpoint: $n"$'\n'; done
  sed -e "s|@PORT@|$1|" -e "s|@METRICS_PORT@|$2|" -e "s|@LOG_REQUESTS@|$3|" "$ROOT/bench/evmgate.yaml.tmpl" |
    awk -v nodes="${nodes%$'\n'}" '{ if ($0 == "@NODES@") print nodes; else print }' >"$4"
}
evmgate_config "${PORTS[0]}" "${PORTS[3]}" false "$OUT/evmgate.yaml"
evmgate_config "${PORTS[1]}" "${PORTS[4]}" true "$OUT/evmgate-log.yaml"

servers="" i=0
for n in "${NODES[@]}"; do
  i=$((i + 1))
  servers+="    server node$i ${n#http://}"$'\n'
done
sed -e "s|@PORT@|${PORTS[2]}|" "$ROOT/bench/haproxy.cfg.tmpl" |
  awk -v s="${servers%$'\n'}" '{ if ($0 == "@SERVERS@") print s; else print }' >"$OUT/haproxy.cfg"

EVMGATE_URL=http://127.0.0.1:${PORTS[0]}/bench
EVMGATE_LOG_URL=http://127.0.0.1:${PORTS[1]}/bench
HAPROXY_URL=http://127.0.0.1:${PORTS[2]}/
FLOOR_URL=http://127.0.0.1:${PORTS[5]}/
EVMGATE_METRICS=http://127.0.0.1:${PORTS[3]}/metrics
EVMGATE_LOG_METRICS=http://127.0.0.1:${PORTS[4]}/metrics

# stop_pid PID: stop one process started here and forget it.
stop_pid() {
  kill "$1" 2>/dev/null || true
  wait "$1" 2>/dev/null || true
  local keep=() p
  for p in "${PIDS[@]}"; do [ "$p" = "$1" ] || keep+=("$p"); done
  PIDS=("${keep[@]}")
}

# start_evmgates: both evmgate instances, fresh, ready to serve.
start_evmgates() {
  "$OUT/evmgate" -config "$OUT/evmgate.yaml" 2>>"$OUT/evmgate.log" &
  EVMGATE_PID=$!
  PIDS+=("$EVMGATE_PID")
  "$OUT/evmgate" -config "$OUT/evmgate-log.yaml" 2>>"$OUT/evmgate-requests.log" &
  EVMGATE_LOG_PID=$!
  PIDS+=("$EVMGATE_LOG_PID")
  wait_for rpc_ok "$EVMGATE_URL"
  wait_for rpc_ok "$EVMGATE_LOG_URL"
  wait_for curl -sf -m 2 "http://127.0.0.1:${PORTS[0]}/ready"
  wait_for curl -sf -m 2 "$EVMGATE_METRICS"
  wait_for curl -sf -m 2 "$EVMGATE_LOG_METRICS"
}

: >"$OUT/evmgate.log"
: >"$OUT/evmgate-requests.log"
start_evmgates
haproxy -db -f "$OUT/haproxy.cfg" >"$OUT/haproxy.log" 2>&1 &
HAPROXY_PID=$!
PIDS+=("$HAPROXY_PID")
wait_for rpc_ok "$HAPROXY_URL"
"$BENCH" floor -port "${PORTS[5]}" -nodes "$DIRECT" >/dev/null 2>"$OUT/floor.log" &
FLOOR_PID=$!
PIDS+=("$FLOOR_PID")
wait_for rpc_ok "$FLOOR_URL"
# Read whole, then searched: grep -q ending a pipe early would fail curl.
if ! grep -q '^go_memstats_mallocs_total ' <<<"$(curl -sf -m 2 "$EVMGATE_METRICS")"; then
  echo "evmgate's /metrics has no go_memstats_mallocs_total: allocs/req cannot be measured" >&2
  exit 1
fi

rss_mb() { awk -v k="$2:" '$1 == k { printf "%.1f", $2 / 1024 }' "/proc/$1/status"; }
sleep 2 # idle: a few health probes have run
IDLE_RSS="evmgate idle RSS: $(rss_mb "$EVMGATE_PID" VmRSS) MB; HAProxy idle RSS: $(rss_mb "$HAPROXY_PID" VmRSS) MB"
echo "$IDLE_RSS" >&2

LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
RESULTS=$OUT/results.jsonl
: >"$RESULTS"
# targets: one line per target, "label url pid metrics-url" ("-": none).
targets() {
  echo "haproxy $HAPROXY_URL $HAPROXY_PID -"
  echo "evmgate $EVMGATE_URL $EVMGATE_PID $EVMGATE_METRICS"
  echo "evmgate+log $EVMGATE_LOG_URL $EVMGATE_LOG_PID $EVMGATE_LOG_METRICS"
  echo "go-floor $FLOOR_URL $FLOOR_PID -"
  echo "direct $DIRECT 0 -"
}
# rounds WORKLOAD CLIENTS TARGETS: ROUNDS rounds of the targets back to
# back, the order reversed every other round.
rounds() {
  local round order label url pid metrics
  for round in $(seq "$ROUNDS"); do
    order=$3
    if [ $((round % 2)) = 0 ]; then order=$(tac <<<"$3"); fi
    while read -r label url pid metrics; do
      local m=()
      if [ "$metrics" != - ]; then m=(-metrics "$metrics"); fi
      "$BENCH" load -label "$label" -url "$url" -workload "$1" -c "$2" -d "$DURATION" -warmup "$WARMUP" \
        -pid "$pid" -node-pid "$FAKES_PID" "${m[@]}" >>"$RESULTS"
    done <<<"$order"
  done
}
PEAK=""
for w in $WORKLOADS; do
  for c in $CONCURRENCY; do
    if [ "$w" = block100k ] && [ "$c" = 64 ]; then
      # A fresh process, so that its VmHWM is this workload's peak.
      stop_pid "$EVMGATE_PID"
      stop_pid "$EVMGATE_LOG_PID"
      start_evmgates
    fi
    rounds "$w" "$c" "$(targets)"
    if [ "$w" = block100k ] && [ "$c" = 64 ]; then
      PEAK="evmgate peak RSS serving block100k at c=64 (VmHWM of a process started just before): $(rss_mb "$EVMGATE_PID" VmHWM) MB (logging instance: $(rss_mb "$EVMGATE_LOG_PID" VmHWM) MB)"
    fi
  done
done
if [ "$LATENCY" != 0 ]; then
  rounds blockNumber 1 "$(targets | grep -v '^evmgate+log ')"
fi

echo
echo "Machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//'); $(go version | cut -d' ' -f3); $(haproxy -v | head -1 | cut -d' ' -f1-3)"
echo "Runs: $WARMUP warm-up + $DURATION measured, fastest of $ROUNDS rounds; load generator, proxy and both fake nodes share the cores; load average before: $LOAD_BEFORE."
echo "evmgate build: $BUILD; allocs/req: whole evmgate process, go_memstats_mallocs_total from its /metrics at both ends of the window ÷ calls answered."
echo
"$BENCH" report "$RESULTS"
echo
echo "$IDLE_RSS"
if [ -n "$PEAK" ]; then
  echo "$PEAK"
else
  echo "evmgate peak RSS after the runs (VmHWM; no block100k c=64 run): $(rss_mb "$EVMGATE_PID" VmHWM) MB (logging instance: $(rss_mb "$EVMGATE_LOG_PID" VmHWM) MB)"
fi
echo "request log written: $(du -h "$OUT/evmgate-requests.log" | cut -f1)"
echo "raw results: $RESULTS"
rm -f "$OUT/evmgate-requests.log"
