// Command evmgate-bench is evmgate's end-to-end load benchmark: a closed-loop
// load generator and the fake nodes it runs against.
//
//	evmgate-bench fakes -n 2                  run fake nodes, print their URLs, serve until killed
//	evmgate-bench load -url URL[,URL] -workload blockNumber -c 16 -d 6s [-pid PID] [-node-pid PID] [-metrics URL]
//	evmgate-bench load -profile staged -url URL -workload restBlockNumber [-stages …] [-time-scale 0.3]
//	evmgate-bench cache -d 3s -rounds 2      the cache scenario: hits, dedup and hedging, end to end
//	evmgate-bench keys -windows 20 -window 2s -burst-priority idle  another key's p99 while one key bursts
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
// Given the proxy's /metrics URL, its go_memstats_mallocs_total is read at
// both ends of the window and divided the same way: the whole process's
// heap allocations per request. The report puts one-client runs in a table
// of their own, with each proxy's p50 minus the direct path's.
//
// With -profile staged the users instead ramp linearly through stages, as
// k6's stages do; the default is the staged load the Infura web server was
// measured with (10 → 200 → 500 → 200 → 50 → 10 users over 4 minutes),
// its durations multiplied by -time-scale (0.3 by default: 72 s) and its
// users by -user-scale. Each call counts in the stage it started in; each
// stage reports its calls/s, p50, p95 and p99 and its errors. A ws:// URL
// makes every user one WebSocket connection sending the workload's
// JSON-RPC message, one at a time. bench/load-profile.sh runs it over the
// REST API's three paths against the demo; docs/load-profile.md has
// figures.
// The cache command runs a whole scenario by itself: it starts fake nodes
// and gateways as processes of its own binary, measures cache hits of a
// finalized header and a 100 KB block against the nodes direct and against
// evmgate without a cache, in-flight dedup of a read at "latest" (node
// calls per client call, counted by the nodes), and hedging with one node
// slow on a fraction of its calls (p50, p99 and the copies counted on the
// gateway's /metrics), then stops every process by its PID.
//
// The keys command asks whether a burst from one API key raises another
// key's latency, with the burst in a process of its own as on a real
// deployment. It starts a fake node and a gateway with two keys, bursty
// (limited to 50 calls/s) and calm (unlimited), and is itself the calm
// key's steady client: one call every 2 ms on one connection, through
// quiet windows and burst windows in turn. For each burst window it starts
// `evmgate-bench burst`, which sends 1,000 calls/s with the bursty key
// until SIGTERM and prints what was served, refused (429) and failed; by
// default under `chrt --idle 0`, so every thread of it runs at idle CPU
// priority, standing in for clients on other machines. It reports the calm
// key's p50 and p99 in each kind of window, the rise, the calm key's
// errors, the burst's counts and the gateway's CPU per burst call.
//
// bench/run.sh runs the whole comparison; docs/benchmarks.md has figures.
package main
