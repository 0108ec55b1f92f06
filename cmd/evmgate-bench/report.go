package main

import (
	"bufio"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
)

// report reads the JSON lines that load runs wrote and prints them as
// markdown: one table of the runs, then the ratios of each label to the base
// label (HAProxy) for the same workload and concurrency, then the one-client
// runs as a latency table of their own, with each proxy's added p50 over the
// direct label's. When a target ran
// several rounds, its fastest round stands for it: on a shared machine other
// work only ever slows a round down, so the fastest is the least disturbed.
func report(args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("report", flag.ContinueOnError)
	base := fs.String("base", "haproxy", "label the others are compared with")
	direct := fs.String("direct", "direct", "label of the runs without a proxy, for the one-client latency table")
	if err := fs.Parse(args); err != nil {
		return err
	}
	var results []Result
	for _, path := range fs.Args() {
		rs, err := readResults(path)
		if err != nil {
			return err
		}
		results = append(results, rs...)
	}
	if len(results) == 0 {
		return fmt.Errorf("no results: give the JSON-lines files that load runs wrote")
	}
	var closed, single, staged []Result
	for _, r := range results {
		switch {
		case r.Profile == "staged":
			staged = append(staged, r)
		case r.Clients == 1:
			single = append(single, r)
		default:
			closed = append(closed, r)
		}
	}
	sep := ""
	if len(closed) > 0 {
		closed = fastestRounds(closed)
		writeRuns(stdout, closed)
		fmt.Fprintln(stdout)
		writeRatios(stdout, closed, *base)
		sep = "\n"
	}
	if len(single) > 0 {
		fmt.Fprint(stdout, sep)
		writeLatency(stdout, fastestRounds(single), *direct)
		sep = "\n"
	}
	if len(staged) > 0 {
		fmt.Fprint(stdout, sep)
		writeStaged(stdout, staged)
	}
	return nil
}

// writeLatency prints one-client runs: what a lone caller waits, and how
// much of it each proxy adds to the direct path's p50.
func writeLatency(w io.Writer, rs []Result, direct string) {
	directs := map[string]Result{}
	for _, r := range rs {
		if r.Label == direct {
			directs[r.Workload] = r
		}
	}
	fmt.Fprintf(w, "| workload | c | target | req/s | p50 ms | p99 ms | errors | added p50 ms over %s |\n", direct)
	fmt.Fprintln(w, "|---|---:|---|---:|---:|---:|---:|---:|")
	for _, r := range rs {
		added := "–"
		if d, ok := directs[r.Workload]; ok && r.Label != direct && d.Requests > 0 && r.Requests > 0 {
			added = strconv.FormatFloat((r.P50us-d.P50us)/1000, 'f', 3, 64)
		}
		fmt.Fprintf(w, "| %s | %d | %s | %.0f | %.3f | %.3f | %d | %s |\n",
			r.Workload, r.Clients, r.Label, r.RPS, r.P50us/1000, r.P99us/1000, r.Errors, added)
	}
}

// writeStaged prints each staged run as a table of its stages.
func writeStaged(w io.Writer, rs []Result) {
	for i, r := range rs {
		if i > 0 {
			fmt.Fprintln(w)
		}
		fmt.Fprintf(w, "**%s** (%s, durations ×%g, users ×%g): %.0f calls in %.0f s, %d errors\n\n",
			r.Label, r.Workload, r.TimeScale, r.UserScale, float64(r.Requests), r.Seconds, r.Errors)
		fmt.Fprintln(w, "| stage | seconds | users | calls/s | p50 ms | p95 ms | p99 ms | errors |")
		fmt.Fprintln(w, "|---:|---:|---|---:|---:|---:|---:|---:|")
		for _, s := range r.Stages {
			fmt.Fprintf(w, "| %d | %.1f | %d → %d | %.0f | %.2f | %.2f | %.2f | %d |\n",
				s.Stage, s.Seconds, s.UsersFrom, s.UsersTo, s.RPS, s.P50us/1000, s.P95us/1000, s.P99us/1000, s.Errors)
		}
		if r.FirstError != "" {
			fmt.Fprintf(w, "\nfirst error: `%s`\n", r.FirstError)
		}
	}
}

func readResults(path string) ([]Result, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("opening results: %w", err)
	}
	defer f.Close()
	var out []Result
	sc := bufio.NewScanner(f)
	for line := 1; sc.Scan(); line++ {
		if len(sc.Bytes()) == 0 {
			continue
		}
		var r Result
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			return nil, fmt.Errorf("reading %s line %d: %w", path, line, err)
		}
		out = append(out, r)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("reading %s: %w", path, err)
	}
	return out, nil
}

func writeRuns(w io.Writer, rs []Result) {
	fmt.Fprintln(w, "| workload | c | target | req/s | p50 ms | p99 ms | errors | proxy CPU µs/req | allocs/req | node CPU µs/req | client CPU µs/req | bytes/req |")
	fmt.Fprintln(w, "|---|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
	for _, r := range rs {
		fmt.Fprintf(w, "| %s | %d | %s | %.0f | %.2f | %.2f | %d | %s | %s | %s | %.0f | %d |\n",
			r.Workload, r.Clients, r.Label, r.RPS, r.P50us/1000, r.P99us/1000, r.Errors,
			optional(r.ProxyCPUus), optional(r.AllocsPerReq), optional(r.NodeCPUus), r.ClientCPUus, r.BytesPerReq)
	}
}

func optional(v float64) string {
	if v == 0 {
		return "–"
	}
	return strconv.FormatFloat(v, 'f', 1, 64)
}

type runKey struct {
	workload string
	clients  int
}

func writeRatios(w io.Writer, rs []Result, base string) {
	bases := map[runKey]Result{}
	for _, r := range rs {
		if r.Label == base {
			bases[runKey{r.Workload, r.Clients}] = r
		}
	}
	fmt.Fprintf(w, "| workload | c | target | req/s ÷ %s | proxy CPU µs/req | %s CPU µs/req |\n", base, base)
	fmt.Fprintln(w, "|---|---:|---|---:|---:|---:|")
	for _, r := range rs {
		b, ok := bases[runKey{r.Workload, r.Clients}]
		if r.Label == base || !ok || b.RPS == 0 {
			continue
		}
		fmt.Fprintf(w, "| %s | %d | %s | %.2f× | %s | %s |\n",
			r.Workload, r.Clients, r.Label, r.RPS/b.RPS, optional(r.ProxyCPUus), optional(b.ProxyCPUus))
	}
}

// fastestRounds keeps, for each label, workload and concurrency, the round
// with the most requests/s, in the order the keys first appear.
func fastestRounds(rs []Result) []Result {
	type key struct {
		label string
		run   runKey
	}
	var order []key
	best := map[key]Result{}
	for _, r := range rs {
		k := key{r.Label, runKey{r.Workload, r.Clients}}
		b, seen := best[k]
		if !seen {
			order = append(order, k)
		}
		if !seen || r.RPS > b.RPS {
			best[k] = r
		}
	}
	out := make([]Result, 0, len(order))
	for _, k := range order {
		out = append(out, best[k])
	}
	return out
}
