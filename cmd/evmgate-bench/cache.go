package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// cacheFlags are the cache scenario's settings.
type cacheFlags struct {
	clients, rounds        int
	dedupClients           []int
	duration, warmup, wait time.Duration
	dir                    string
}

// cacheBench runs the cache scenario end to end: fake nodes and gateways as
// processes of this program on 127.0.0.1, then closed-loop runs that
// compare
//
//   - hit: a finalized small block and a 100 KB block, direct to the nodes,
//     through evmgate with the cache off, and through evmgate with it on;
//   - dedup: eth_getBalance at "latest" (never kept, shared while in
//     flight) through evmgate with the cache off and on, with the
//     node-side calls per client call;
//   - hedge: the same read to two nodes, the first slow on one call in 25,
//     through evmgate (round robin, cache off) with hedging off and on,
//     with the copies it sent.
//
// Each run prints one JSON line on stdout and a readable line on stderr;
// an interrupt stops the scenario after the run in progress.
func cacheBench(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("cache", flag.ContinueOnError)
	f := cacheFlags{}
	fs.IntVar(&f.clients, "c", 16, "concurrent clients of the hit and hedge runs")
	dedup := fs.String("dedup-c", "16,64", "concurrent clients of the dedup runs, comma-separated")
	fs.IntVar(&f.rounds, "rounds", 1, "rounds of the hit runs, the targets' order reversed every other round")
	fs.DurationVar(&f.duration, "d", 3*time.Second, "measured duration of each run")
	fs.DurationVar(&f.warmup, "warmup", 500*time.Millisecond, "unmeasured warm-up before each run")
	fs.DurationVar(&f.wait, "slow", 200*time.Millisecond, "hedge: wait of the slow node's slow calls")
	fs.StringVar(&f.dir, "dir", "", "directory for configurations and logs (default: a new temporary one)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if err := f.check(*dedup); err != nil {
		return err
	}
	if f.dir == "" {
		d, err := os.MkdirTemp("", "evmgate-cache-bench.")
		if err != nil {
			return err
		}
		f.dir = d
	}
	exe, err := os.Executable()
	if err != nil {
		return fmt.Errorf("finding this program to run its fake nodes and gateways: %w", err)
	}
	s := &cacheSetup{exe: exe, flags: f}
	defer s.stop()
	if err := s.start(); err != nil {
		return err
	}
	fmt.Fprintf(stderr, "configurations and logs in %s\n", f.dir)
	emit := func(r Result) error {
		if ctx.Err() != nil {
			return fmt.Errorf("stopped: %w", context.Cause(ctx))
		}
		printResult(stderr, r)
		if r.UpstreamPerCall != nil || len(r.Hedges) > 0 {
			fmt.Fprintf(stderr, "  node calls per client call %s  hedges %v\n", optionalPtr(r.UpstreamPerCall), r.Hedges)
		}
		b, err := json.Marshal(r)
		if err != nil {
			return err
		}
		_, err = fmt.Fprintln(stdout, string(b))
		return err
	}
	return s.runAll(emit)
}

// check reads the dedup client counts and checks the flags' bounds.
func (f *cacheFlags) check(dedup string) error {
	for _, v := range strings.Split(dedup, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(v))
		if err != nil || n < 1 || n > maxClients {
			return fmt.Errorf("-dedup-c %q: use client counts from 1 to %d, comma-separated", dedup, maxClients)
		}
		f.dedupClients = append(f.dedupClients, n)
	}
	if f.rounds < 1 || f.rounds > 5 {
		return fmt.Errorf("-rounds %d: use 1 to 5", f.rounds)
	}
	if f.duration <= 0 || f.duration > 20*time.Second {
		return fmt.Errorf("-d %s: use a duration above 0 and up to 20s", f.duration)
	}
	return nil
}

func optionalPtr(v *float64) string {
	if v == nil {
		return "–"
	}
	return strconv.FormatFloat(*v, 'f', 3, 64)
}

// gwProc is one evmgate process of the scenario.
type gwProc struct {
	label   string
	url     string
	metrics string // "" when it has none
	proc    *child
}

// cacheSetup is the processes of the scenario.
type cacheSetup struct {
	exe          string
	flags        cacheFlags
	children     []*child
	nodes, hedge []string // node URLs
	nodesPID     int
	hedgePID     int
	on, off      gwProc
	hedgeOff     gwProc
	hedgeOn      gwProc
}

func (s *cacheSetup) stop() {
	stopAll(s.children)
}

func (s *cacheSetup) start() error {
	dir := s.flags.dir
	c, urls, err := startFakes(s.exe, filepath.Join(dir, "fakes.log"), 2, "-big", strconv.Itoa(blockSize), "-finalized", "900")
	if err != nil {
		return err
	}
	s.children = append(s.children, c)
	s.nodes, s.nodesPID = urls, c.pid()
	c, urls, err = startFakes(s.exe, filepath.Join(dir, "fakes-hedge.log"), 2, "-finalized", "900",
		"-slow-every", "25", "-slow", s.flags.wait.String(), "-slow-nodes", "1")
	if err != nil {
		return err
	}
	s.children = append(s.children, c)
	s.hedge, s.hedgePID = urls, c.pid()
	ports, err := freePorts(10)
	if err != nil {
		return err
	}
	specs := []struct {
		g      *gwProc
		label  string
		nodes  []string
		extra  string
		metric bool
	}{
		{&s.on, "cache", s.nodes, "cache: {enabled: true}\n", false},
		{&s.off, "nocache", s.nodes, "cache: {enabled: false}\n", false},
		{&s.hedgeOff, "hedge-off", s.hedge, "cache: {enabled: false}\n", true},
		{&s.hedgeOn, "hedge-on", s.hedge, "cache: {enabled: false}\n", true},
	}
	for i, sp := range specs {
		sp.g.label = sp.label
		if err := s.startGateway(sp.g, ports[2*i:2*i+2], ports[8+i%2], sp.nodes, sp.extra, sp.metric); err != nil {
			return err
		}
	}
	return s.ready()
}

// startGateway writes a configuration and runs `serve` with it.
func (s *cacheSetup) startGateway(g *gwProc, ports []int, metricsPort int, nodes []string, extra string, metrics bool) error {
	var b strings.Builder
	fmt.Fprintf(&b, "listen_addr: 127.0.0.1\nport: %d\nlog_level: WARN\nlog_requests: false\n", ports[0])
	if metrics {
		fmt.Fprintf(&b, "metrics_port: %d\nmetrics_addr: 127.0.0.1\n", metricsPort)
		g.metrics = fmt.Sprintf("http://127.0.0.1:%d/metrics", metricsPort)
	} else {
		b.WriteString("metrics_port: -1\n")
	}
	b.WriteString(extra)
	b.WriteString("networks:\n  - name: bench\n    chain_id: 1\n    local_poll_interval: 100ms\n")
	if metrics {
		// Round robin keeps the slow node's share of the calls, which p2c
		// would shrink by itself.
		b.WriteString("    strategy: round_robin\n")
	}
	if g.label == "hedge-on" {
		b.WriteString("    hedge: {enabled: true, min_delay: 10ms, max_delay: 50ms}\n")
	}
	b.WriteString("    local_nodes:\n")
	for _, n := range nodes {
		fmt.Fprintf(&b, "      - rpc_endpoint: %s\n", n)
	}
	c, err := startServe(s.exe, s.flags.dir, g.label, b.String(), ports[1])
	if err != nil {
		return err
	}
	s.children = append(s.children, c)
	g.proc, g.url = c, fmt.Sprintf("http://127.0.0.1:%d/bench", ports[0])
	return nil
}

// ready waits until every gwProc answers, and the caching one answers the
// finalized block from its cache (it has read the nodes' finalized block).
func (s *cacheSetup) ready() error {
	block := string(mustWorkload("block").Body)
	for _, g := range []*gwProc{&s.off, &s.hedgeOff, &s.hedgeOn} {
		if err := waitFor(g.label+" to answer", func() error {
			b, _, err := rpc(g.url, block)
			if err == nil && !strings.Contains(string(b), `"result":{`) {
				err = fmt.Errorf("answered %.200s", b)
			}
			return err
		}); err != nil {
			return err
		}
	}
	return waitFor("the cache to answer a finalized block", func() error {
		b, xc, err := rpc(s.on.url, block)
		if err == nil && xc != "HIT" {
			err = fmt.Errorf("X-Cache %q, answer %.200s", xc, b)
		}
		return err
	})
}

func mustWorkload(name string) workload {
	w, err := workloadByName(name)
	if err != nil {
		panic(err)
	}
	return w
}
