package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := runCommand(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "evmgate-bench:", err)
		os.Exit(1)
	}
}

const usage = `usage:
  evmgate-bench fakes [-n 2] [-big 100000]      fake nodes on 127.0.0.1; prints URLs, serves until killed
  evmgate-bench load -url URL[,URL] -workload NAME -c 16 -d 6s [-pid PID] [-node-pid PID] [-metrics URL] [-label L]
  evmgate-bench load -profile staged -url URL -workload NAME [-stages 10s:10,30s:200,…] [-time-scale 0.3] [-user-scale 1]
  evmgate-bench cache [-c 16] [-dedup-c 16,64] [-d 3s] [-rounds 1]   the cache, dedup and hedging scenario, end to end
  evmgate-bench keys [-windows 20] [-window 2s] [-rate 1000] [-limit 50] [-burst-priority idle|nice|normal] [-gateway-profile FILE]
                                                 another key's latency while one key bursts, end to end
  evmgate-bench serve -config FILE [-pprof 127.0.0.1:6060]
  evmgate-bench floor -nodes URL[,URL] [-port 0]   the least a Go proxy does per call, a yardstick; prints its URL
  evmgate-bench ports [-n 1]
  evmgate-bench report [-base haproxy] FILE...
workloads: blockNumber, batch10, block, balance, block100k (POST, or a message to a ws:// URL), restBlockNumber (GET)
`

func runCommand(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return fmt.Errorf("no command\n%s", usage)
	}
	cmd, args := args[0], args[1:]
	switch cmd {
	case "fakes":
		return fakes(ctx, args, stdout)
	case "load":
		return load(args, stdout, stderr)
	case "cache":
		return cacheBench(ctx, args, stdout, stderr)
	case "keys":
		return keysBench(ctx, args, stdout, stderr)
	case "burst": // the keys scenario's bursting client
		return burst(ctx, args, stdout)
	case "serve":
		return serve(ctx, args, stderr)
	case "floor":
		return floor(ctx, args, stdout)
	case "ports":
		return ports(args, stdout)
	case "report":
		return report(args, stdout)
	case "help", "-h", "-help":
		fmt.Fprint(stdout, usage)
		return nil
	}
	return fmt.Errorf("unknown command %q\n%s", cmd, usage)
}

// load runs one measurement, closed-loop or staged, and prints its result
// as one JSON line on stdout and readable lines on stderr.
func load(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("load", flag.ContinueOnError)
	urls := fs.String("url", "", "target URL(s), comma-separated, http:// or ws://; 127.0.0.1 only")
	name := fs.String("workload", "blockNumber", "blockNumber, batch10, block, balance, block100k or restBlockNumber")
	profile := fs.String("profile", "closed", "closed: -c clients for -d after -warmup; staged: users ramp through -stages")
	stages := fs.String("stages", defaultStages, "staged: DURATION:USERS,… each stage ramps the users linearly to its USERS")
	timeScale := fs.Float64("time-scale", 0.3, "staged: multiply every stage's duration (0.3: the default stages last 72s)")
	userScale := fs.Float64("user-scale", 1, "staged: multiply every stage's users")
	cfg := loadConfig{}
	fs.StringVar(&cfg.Label, "label", "", "name of the target in the results")
	fs.IntVar(&cfg.Clients, "c", 16, "closed: concurrent clients (one connection each)")
	fs.DurationVar(&cfg.Duration, "d", 6*time.Second, "closed: measured duration")
	fs.DurationVar(&cfg.Warmup, "warmup", time.Second, "closed: unmeasured warm-up before it")
	fs.DurationVar(&cfg.Timeout, "timeout", 10*time.Second, "per-request timeout")
	fs.IntVar(&cfg.ProxyPID, "pid", 0, "closed: PID of the proxy whose CPU time to measure")
	fs.IntVar(&cfg.NodePID, "node-pid", 0, "closed: PID of the fake nodes whose CPU time to measure")
	metrics := fs.String("metrics", "", "closed: the proxy's http://127.0.0.1:PORT/metrics, to count its allocations per call")
	if err := fs.Parse(args); err != nil {
		return err
	}
	var err error
	if *metrics != "" {
		if cfg.MetricsURL, err = parseMetricsURL(*metrics); err != nil {
			return err
		}
	}
	if cfg.Targets, err = parseTargets(*urls); err != nil {
		return err
	}
	if cfg.Workload, err = workloadByName(*name); err != nil {
		return err
	}
	if cfg.Label == "" {
		cfg.Label = *urls
	}
	var r Result
	switch *profile {
	case "closed":
		r, err = run(cfg)
	case "staged":
		r, err = staged(cfg, *stages, *timeScale, *userScale)
	default:
		err = fmt.Errorf("-profile %q: use closed or staged", *profile)
	}
	if err != nil {
		return err
	}
	printResult(stderr, r)
	b, err := json.Marshal(r)
	if err != nil {
		return fmt.Errorf("encoding result: %w", err)
	}
	_, err = fmt.Fprintln(stdout, string(b))
	return err
}

// staged runs the staged profile of stages, scaled.
func staged(cfg loadConfig, stages string, timeScale, userScale float64) (Result, error) {
	for _, f := range []struct {
		name string
		v    float64
	}{{"-time-scale", timeScale}, {"-user-scale", userScale}} {
		if !(f.v > 0 && f.v <= 10) {
			return Result{}, fmt.Errorf("%s %g: use a factor above 0 and up to 10", f.name, f.v)
		}
	}
	st, err := parseStages(stages)
	if err != nil {
		return Result{}, err
	}
	return runStaged(stagedConfig{
		Label: cfg.Label, Targets: cfg.Targets, Workload: cfg.Workload, Timeout: cfg.Timeout,
		Stages: scaleStages(st, timeScale, userScale), TimeScale: timeScale, UserScale: userScale,
	})
}

func printResult(w io.Writer, r Result) {
	if r.Profile == "staged" {
		for _, s := range r.Stages {
			fmt.Fprintf(w, "%-12s %-15s stage %d %5.1fs users %3d→%-3d %8.0f calls/s  p50 %6.2f ms  p95 %6.2f ms  p99 %6.2f ms  errors %d\n",
				r.Label, r.Workload, s.Stage, s.Seconds, s.UsersFrom, s.UsersTo, s.RPS, s.P50us/1000, s.P95us/1000, s.P99us/1000, s.Errors)
		}
	} else {
		fmt.Fprintf(w, "%-12s %-11s c=%-3d %8.0f req/s  p50 %6.3f ms  p99 %6.3f ms  errors %d  proxy %s µs/req  node %s µs/req  allocs/req %s\n",
			r.Label, r.Workload, r.Clients, r.RPS, r.P50us/1000, r.P99us/1000, r.Errors, optional(r.ProxyCPUus), optional(r.NodeCPUus), optional(r.AllocsPerReq))
	}
	if r.FirstError != "" {
		fmt.Fprintln(w, "  first error:", r.FirstError)
	}
}
