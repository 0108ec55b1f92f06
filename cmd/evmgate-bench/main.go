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
  evmgate-bench load -url URL[,URL] -workload NAME -c 16 -d 6s [-pid PID] [-node-pid PID] [-label L]
  evmgate-bench serve -config FILE [-pprof 127.0.0.1:6060]
  evmgate-bench ports [-n 1]
  evmgate-bench report [-base haproxy] FILE...
workloads: blockNumber, batch10, block100k
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
	case "serve":
		return serve(ctx, args, stderr)
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

// load runs one closed-loop measurement and prints its result as one JSON
// line on stdout and a readable line on stderr.
func load(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("load", flag.ContinueOnError)
	urls := fs.String("url", "", "target URL(s), comma-separated; 127.0.0.1 only")
	name := fs.String("workload", "blockNumber", "blockNumber, batch10 or block100k")
	cfg := loadConfig{}
	fs.StringVar(&cfg.Label, "label", "", "name of the target in the results")
	fs.IntVar(&cfg.Clients, "c", 16, "concurrent clients (one connection each)")
	fs.DurationVar(&cfg.Duration, "d", 6*time.Second, "measured duration")
	fs.DurationVar(&cfg.Warmup, "warmup", time.Second, "unmeasured warm-up before it")
	fs.DurationVar(&cfg.Timeout, "timeout", 10*time.Second, "per-request timeout")
	fs.IntVar(&cfg.ProxyPID, "pid", 0, "PID of the proxy whose CPU time to measure")
	fs.IntVar(&cfg.NodePID, "node-pid", 0, "PID of the fake nodes whose CPU time to measure")
	if err := fs.Parse(args); err != nil {
		return err
	}
	var err error
	if cfg.Targets, err = parseTargets(*urls); err != nil {
		return err
	}
	if cfg.Workload, err = workloadByName(*name); err != nil {
		return err
	}
	if cfg.Label == "" {
		cfg.Label = *urls
	}
	r, err := run(cfg)
	if err != nil {
		return err
	}
	fmt.Fprintf(stderr, "%-12s %-11s c=%-3d %8.0f req/s  p50 %6.2f ms  p99 %6.2f ms  errors %d  proxy %s µs/req  node %s µs/req\n",
		r.Label, r.Workload, r.Clients, r.RPS, r.P50us/1000, r.P99us/1000, r.Errors, optional(r.ProxyCPUus), optional(r.NodeCPUus))
	if r.FirstError != "" {
		fmt.Fprintln(stderr, "  first error:", r.FirstError)
	}
	b, err := json.Marshal(r)
	if err != nil {
		return fmt.Errorf("encoding result: %w", err)
	}
	_, err = fmt.Fprintln(stdout, string(b))
	return err
}
