package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// keysFlags are the keys scenario's settings.
type keysFlags struct {
	windows                int
	window, warmup, every  time.Duration
	rate                   float64
	senders, limit         int
	priority, profile, dir string
}

// keysBench runs the keys scenario end to end: does a burst from one API
// key raise another key's latency? As processes of this program on
// 127.0.0.1: one fake node, one gateway (`serve`) with two keys, bursty
// (limited to -limit calls/s, burst -limit) and calm (unlimited), on a
// network with the cache off so every calm call reaches the node; and, in
// every other window, a burst process (`burst`) sending -rate calls/s with
// the bursty key from -senders keep-alive connections, started at idle CPU
// priority (-burst-priority) as a stand-in for clients on other machines.
// This process is the steady client: one keep-alive connection calling
// eth_blockNumber with the calm key every -every, through quiet and burst
// windows in turn. It prints a line per window and a summary on stderr and
// one JSON line on stdout. A calm call answered with anything but a good
// 200 is an error, and any makes the command fail after its report.
func keysBench(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("keys", flag.ContinueOnError)
	f := keysFlags{}
	fs.IntVar(&f.windows, "windows", 20, "windows of each kind, quiet and burst in turn (fewer than 15 scatter more than a 10 % change on a shared machine)")
	fs.DurationVar(&f.window, "window", 2*time.Second, "length of each window")
	fs.DurationVar(&f.warmup, "warmup", 500*time.Millisecond, "unmeasured calm calls before the first window")
	fs.DurationVar(&f.every, "every", 2*time.Millisecond, "the calm client's pace: one call each")
	fs.Float64Var(&f.rate, "rate", 1000, "calls/s of the burst, with the bursty key")
	fs.IntVar(&f.senders, "senders", 2, "the burst's senders, one keep-alive connection each")
	fs.IntVar(&f.limit, "limit", 50, "the bursty key's limit: calls/s, and its burst")
	fs.StringVar(&f.priority, "burst-priority", "idle", "CPU priority of the burst process: idle (chrt --idle 0; nice -n 19 without chrt), nice (nice -n 19) or normal")
	fs.StringVar(&f.profile, "gateway-profile", "", "write the gateway's CPU profile during the first burst window to this file")
	fs.StringVar(&f.dir, "dir", "", "directory for the configuration and logs (default: a new temporary one)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if err := f.check(); err != nil {
		return err
	}
	launcher, how, err := burstLauncher(f.priority)
	if err != nil {
		return err
	}
	if f.dir == "" {
		f.dir, err = os.MkdirTemp("", "evmgate-keys-bench.")
	} else {
		err = os.MkdirAll(f.dir, 0o700)
	}
	if err != nil {
		return err
	}
	exe, err := os.Executable()
	if err != nil {
		return fmt.Errorf("finding this program to run its fake node, gateway and burst: %w", err)
	}
	s := &keysSetup{exe: exe, flags: f, launcher: launcher}
	defer s.stop()
	if err := s.start(); err != nil {
		return err
	}
	fmt.Fprintf(stderr, "configurations and logs in %s; gateway pid %d, profiling on http://%s/debug/pprof/\n", f.dir, s.gateway.pid(), s.pprof)
	fmt.Fprintf(stderr, "burst: %g calls/s from %d senders with a key limited to %d/s, priority %s\n", f.rate, f.senders, f.limit, how)
	r, err := s.run(ctx, stderr)
	if err != nil {
		return err
	}
	r.BurstPriority, r.BurstLauncher = f.priority, how
	printKeys(stderr, r)
	b, err := json.Marshal(r)
	if err != nil {
		return err
	}
	if _, err := fmt.Fprintln(stdout, string(b)); err != nil {
		return err
	}
	if n := r.Quiet.Errors + r.Burst.Errors; n > 0 {
		return fmt.Errorf("the calm key had %d calls not answered with a good 200; first: %s", n, r.CalmFirstError)
	}
	return nil
}

// check checks the flags' bounds.
func (f *keysFlags) check() error {
	switch {
	case f.windows < 1 || f.windows > 50:
		return fmt.Errorf("-windows %d: use 1 to 50 windows of each kind", f.windows)
	case f.window < 100*time.Millisecond || f.window > time.Minute:
		return fmt.Errorf("-window %s: use 100ms to 1m", f.window)
	case f.warmup < 0 || f.warmup > 10*time.Second:
		return fmt.Errorf("-warmup %s: use 0 to 10s", f.warmup)
	case f.every < 200*time.Microsecond || f.every > time.Second:
		return fmt.Errorf("-every %s: use 200µs to 1s", f.every)
	case !(f.rate > 0 && f.rate <= 20_000):
		return fmt.Errorf("-rate %g: use above 0 and up to 20000 calls/s", f.rate)
	case f.senders < 1 || f.senders > 64:
		return fmt.Errorf("-senders %d: use 1 to 64", f.senders)
	case f.limit < 1 || f.limit > 100_000:
		return fmt.Errorf("-limit %d: use 1 to 100000 calls/s", f.limit)
	case f.profile != "" && f.window < time.Second:
		return fmt.Errorf("-gateway-profile with -window %s: profiles are whole seconds, use a window of 1s or more", f.window)
	}
	return nil
}

// keysSetup is the processes of the scenario.
type keysSetup struct {
	exe      string
	flags    keysFlags
	launcher []string // how the burst is started (chrt, nice or nothing)
	children []*child
	gateway  *child
	pprof    string // host:port of the gateway's profiling endpoints
	calmURL  string
	burstURL string
}

func (s *keysSetup) stop() { stopAll(s.children) }

// start runs the fake node and the gateway and waits until the calm key is
// answered.
func (s *keysSetup) start() error {
	c, nodes, err := startFakes(s.exe, filepath.Join(s.flags.dir, "fakes.log"), 1)
	if err != nil {
		return err
	}
	s.children = append(s.children, c)
	ports, err := freePorts(2)
	if err != nil {
		return err
	}
	bursty, calm := newKey("bursty"), newKey("calm")
	if bursty == "" || calm == "" {
		return errors.New("making random API keys failed")
	}
	cfg := fmt.Sprintf(`listen_addr: 127.0.0.1
port: %d
log_level: WARN
log_requests: false
metrics_port: -1
networks:
  - name: bench
    chain_id: 1
    local_poll_interval: 100ms
    cache: false
    local_nodes:
      - rpc_endpoint: %s
access:
  keys:
    - name: bursty
      key: %s
      limit: {rate: %d, burst: %d}
    - name: calm
      key: %s
`, ports[0], nodes[0], bursty, s.flags.limit, s.flags.limit, calm)
	if c, err = startServe(s.exe, s.flags.dir, "gateway", cfg, ports[1]); err != nil {
		return err
	}
	s.children = append(s.children, c)
	s.gateway, s.pprof = c, fmt.Sprintf("127.0.0.1:%d", ports[1])
	base := fmt.Sprintf("http://127.0.0.1:%d/bench/", ports[0])
	s.calmURL, s.burstURL = base+calm, base+bursty
	body := string(mustWorkload("blockNumber").Body)
	return waitFor("the gateway to answer the calm key", func() error {
		b, _, err := rpc(s.calmURL, body)
		if err == nil && !strings.Contains(string(b), `"result":"0x`) {
			err = fmt.Errorf("answered %.200s", b)
		}
		return err
	})
}

// newKey returns a random API key named for its use ("": no randomness).
func newKey(name string) string {
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		return ""
	}
	return "bench-" + name + "-" + hex.EncodeToString(b)
}

// startBurst runs the burst process for window n and waits until its
// first call is answered; it returns the process and its scheduling.
func (s *keysSetup) startBurst(n int) (*child, string, error) {
	log := filepath.Join(s.flags.dir, fmt.Sprintf("burst-%d.log", n))
	c, err := startChildVia(s.launcher, s.exe, log, "burst", "-url", s.burstURL,
		"-rate", fmt.Sprint(s.flags.rate), "-senders", fmt.Sprint(s.flags.senders),
		"-for", (s.flags.window + 30*time.Second).String())
	if err != nil {
		return nil, "", err
	}
	s.children = append(s.children, c)
	line, err := c.nextLine("that it is sending", log, 15*time.Second)
	if err == nil && line != burstReady {
		err = fmt.Errorf("burst printed %q: see %s", line, log)
	}
	if err != nil {
		return nil, "", err
	}
	sched, err := procSched(c.pid())
	if err != nil {
		sched = err.Error()
	}
	return c, sched, nil
}

// endBurst stops the burst process and reads its counts.
func endBurst(c *child) (burstCounts, error) {
	var got burstCounts
	err := c.stop()
	for l := range c.lines {
		if strings.HasPrefix(l, "{") {
			if jerr := json.Unmarshal([]byte(l), &got); jerr != nil {
				return got, fmt.Errorf("burst printed %q: %w", l, jerr)
			}
			return got, nil
		}
	}
	return got, fmt.Errorf("burst printed no counts (it ended with %v)", err)
}
