// Command evmgate-bench is evmgate's end-to-end load benchmark: a closed-loop
// load generator and the fake nodes it runs against.
//
//	evmgate-bench fakes -n 2                  run fake nodes, print their URLs, serve until killed
//	evmgate-bench load -url URL[,URL] -workload blockNumber -c 16 -d 6s [-pid PID] [-node-pid PID]
//	evmgate-bench serve -config FILE -pprof 127.0.0.1:PORT   the gateway in-process, with pprof
//	evmgate-bench ports -n 3                  print free loopback ports
//	evmgate-bench report results.jsonl        markdown tables of load runs
//
// Load goes to 127.0.0.1 only and every run is bounded in time. Each client
// holds one keep-alive HTTP/1.1 connection and sends its next request as
// soon as the answer to the last one is read and checked. Requests per
// second, p50 and p99 latency and errors count only the calls that start
// and end within the measured window, after a warm-up. Given the proxy's
// PID (and the fake nodes' PID), the CPU time each process used in the
// window, read from /proc/PID/stat, is divided by the requests answered.
// bench/run.sh runs the whole comparison; docs/benchmarks.md has figures.
package main
