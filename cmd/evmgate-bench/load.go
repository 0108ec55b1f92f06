package main

import (
	"cmp"
	"errors"
	"fmt"
	"net"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Limits that keep a run bounded whatever the flags say.
const (
	maxClients  = 1024
	maxDuration = 2 * time.Minute
)

// loadConfig is one closed-loop run.
type loadConfig struct {
	Label    string
	Targets  []target // clients are spread over them in turn
	Workload workload
	Clients  int
	Warmup   time.Duration
	Duration time.Duration
	Timeout  time.Duration
	ProxyPID int // 0: not measured
	NodePID  int // 0: not measured
	// MetricsURL is the proxy's Prometheus /metrics, whose
	// go_memstats_mallocs_total is read at both ends of the window ("": not
	// measured).
	MetricsURL string
}

// Result is what one run measured. CPU figures are per request, in µs.
type Result struct {
	Label         string  `json:"label"`
	Workload      string  `json:"workload"`
	Clients       int     `json:"clients"`
	Seconds       float64 `json:"seconds"`
	Requests      int64   `json:"requests"`
	Errors        int64   `json:"errors"`
	TotalRequests int64   `json:"total_requests"` // warm-up included
	RPS           float64 `json:"rps"`
	P50us         float64 `json:"p50_us"`
	P99us         float64 `json:"p99_us"`
	BytesPerReq   int64   `json:"bytes_per_req"`
	ProxyCPUus    float64 `json:"proxy_cpu_us,omitempty"`
	NodeCPUus     float64 `json:"node_cpu_us,omitempty"`
	ClientCPUus   float64 `json:"client_cpu_us"`
	FirstError    string  `json:"first_error,omitempty"`
	// AllocsPerReq is the heap objects the whole proxy process allocated
	// during the window per call answered (0: not measured).
	AllocsPerReq float64 `json:"allocs_per_req,omitempty"`
	// The cache scenario ("evmgate-bench cache") also has its part (hit,
	// dedup, hedge), the node-side calls of the workload's method per
	// client call over the whole run (warm-up included), and the hedged
	// copies the gateway sent during it, by outcome.
	Scenario        string             `json:"scenario,omitempty"`
	UpstreamPerCall *float64           `json:"upstream_per_call,omitempty"`
	Hedges          map[string]float64 `json:"hedges,omitempty"`
	// A staged run ("-profile staged") also has its scales and stages;
	// Clients is then its most users.
	Profile   string        `json:"profile,omitempty"`
	TimeScale float64       `json:"time_scale,omitempty"`
	UserScale float64       `json:"user_scale,omitempty"`
	Stages    []StageResult `json:"stages,omitempty"`
}

// parseTarget accepts only http:// and ws:// URLs on 127.0.0.1: the load
// generator never sends load anywhere else.
func parseTarget(raw string) (target, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return target{}, fmt.Errorf("parsing target %q: %w", raw, err)
	}
	if u.Scheme != "http" && u.Scheme != "ws" {
		return target{}, fmt.Errorf("target %q: only http:// and ws:// are supported", raw)
	}
	if u.Hostname() != "127.0.0.1" || u.Port() == "" {
		return target{}, fmt.Errorf("target %q: load goes to 127.0.0.1:PORT only", raw)
	}
	path := u.EscapedPath()
	if path == "" {
		path = "/"
	}
	if u.RawQuery != "" {
		path += "?" + u.RawQuery
	}
	return target{ws: u.Scheme == "ws", addr: net.JoinHostPort("127.0.0.1", u.Port()), path: path}, nil
}

func parseTargets(list string) ([]target, error) {
	var out []target
	for _, raw := range strings.Split(list, ",") {
		if raw = strings.TrimSpace(raw); raw == "" {
			continue
		}
		t, err := parseTarget(raw)
		if err != nil {
			return nil, err
		}
		out = append(out, t)
	}
	if len(out) == 0 {
		return nil, errors.New("no target: give -url http://127.0.0.1:PORT/PATH")
	}
	return out, nil
}

func (c *loadConfig) validate() error {
	switch {
	case c.Clients < 1 || c.Clients > maxClients:
		return fmt.Errorf("-c %d: use 1 to %d clients", c.Clients, maxClients)
	case c.Duration <= 0 || c.Duration > maxDuration:
		return fmt.Errorf("-d %s: use a duration above 0 and up to %s", c.Duration, maxDuration)
	case c.Warmup < 0 || c.Warmup > maxDuration:
		return fmt.Errorf("-warmup %s: use 0 to %s", c.Warmup, maxDuration)
	case c.Timeout <= 0:
		return fmt.Errorf("-timeout %s: must be above 0", c.Timeout)
	}
	return checkTargets(c.Targets, &c.Workload)
}

// checkTargets refuses a WebSocket target for a workload that is not a
// JSON-RPC message.
func checkTargets(ts []target, w *workload) error {
	for _, t := range ts {
		if t.ws && w.Method == "GET" {
			return fmt.Errorf("workload %s is an HTTP GET: a ws:// target takes a JSON-RPC workload (blockNumber, batch10, block100k)", w.Name)
		}
	}
	return nil
}

// Phases of a run: only calls that start and end while measuring count.
const (
	warming int32 = iota
	measuring
	stopped
)

// clientStats is one client's tally; each client owns its own.
type clientStats struct {
	latencies []time.Duration
	errors    int64
	bytes     int64
	total     int64
	firstErr  error
}

// run drives the clients and returns the measurements.
func run(cfg loadConfig) (Result, error) {
	if err := cfg.validate(); err != nil {
		return Result{}, err
	}
	var phase atomic.Int32
	stats := make([]clientStats, cfg.Clients)
	var wg sync.WaitGroup
	for i := range cfg.Clients {
		c := newCaller(cfg.Targets[i%len(cfg.Targets)], &cfg.Workload, cfg.Timeout)
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer c.close()
			drive(c, &cfg.Workload, &phase, &stats[i])
		}()
	}
	time.Sleep(cfg.Warmup)
	// The allocation counter is scraped just outside the CPU clocks, so
	// that the scrape's own work is not counted as the proxy's CPU.
	mallocsBefore, err := mallocs(cfg)
	var before snapshot
	if err == nil {
		before, err = sample(cfg)
	}
	if err != nil {
		phase.Store(stopped)
		wg.Wait()
		return Result{}, err
	}
	phase.Store(measuring)
	time.Sleep(cfg.Duration)
	phase.Store(stopped)
	after, err := sample(cfg)
	mallocsAfter, err2 := mallocs(cfg)
	wg.Wait()
	if err = cmp.Or(err, err2); err != nil {
		return Result{}, err
	}
	before.mallocs, after.mallocs = mallocsBefore, mallocsAfter
	return summarise(cfg, stats, before, after), nil
}

// mallocs reads the proxy's allocation counter, if it is measured.
func mallocs(cfg loadConfig) (float64, error) {
	if cfg.MetricsURL == "" {
		return 0, nil
	}
	return scrapeCounter(cfg.MetricsURL, mallocsMetric)
}

// drive is one closed-loop client: send, wait for the answer, send again.
func drive(c caller, w *workload, phase *atomic.Int32, st *clientStats) {
	st.latencies = make([]time.Duration, 0, 1<<14)
	for {
		ph := phase.Load()
		if ph == stopped {
			return
		}
		t0 := time.Now()
		err := c.roundTrip()
		if err == nil {
			err = w.check(c.answer())
		}
		d := time.Since(t0)
		st.total++
		if ph == measuring && phase.Load() == measuring {
			st.latencies = append(st.latencies, d)
			st.bytes += int64(len(c.answer()))
			if err != nil {
				st.errors++
			}
		}
		if err != nil {
			if st.firstErr == nil {
				st.firstErr = err
			}
			// A failing target answers fast: do not spin on it.
			time.Sleep(10 * time.Millisecond)
		}
	}
}

// snapshot is the clocks read at a phase change.
type snapshot struct {
	at                time.Time
	proxy, node, self time.Duration
	mallocs           float64 // the proxy's go_memstats_mallocs_total
}

func sample(cfg loadConfig) (snapshot, error) {
	s := snapshot{self: selfCPU()}
	var err error
	if cfg.ProxyPID > 0 {
		if s.proxy, err = procCPU(cfg.ProxyPID); err != nil {
			return s, err
		}
	}
	if cfg.NodePID > 0 {
		if s.node, err = procCPU(cfg.NodePID); err != nil {
			return s, err
		}
	}
	s.at = time.Now()
	return s, nil
}

func summarise(cfg loadConfig, stats []clientStats, before, after snapshot) Result {
	r := Result{Label: cfg.Label, Workload: cfg.Workload.Name, Clients: cfg.Clients}
	r.Seconds = after.at.Sub(before.at).Seconds()
	var all []time.Duration
	var bytes int64
	for i := range stats {
		st := &stats[i]
		all = append(all, st.latencies...)
		r.Errors += st.errors
		r.TotalRequests += st.total
		bytes += st.bytes
		if st.firstErr != nil && r.FirstError == "" {
			r.FirstError = st.firstErr.Error()
		}
	}
	r.Requests = int64(len(all))
	if r.Requests == 0 {
		return r
	}
	slices.Sort(all)
	r.RPS = float64(r.Requests) / r.Seconds
	r.P50us = micros(percentile(all, 0.50))
	r.P99us = micros(percentile(all, 0.99))
	r.BytesPerReq = bytes / r.Requests
	per := func(d time.Duration) float64 { return micros(d) / float64(r.Requests) }
	if cfg.ProxyPID > 0 {
		r.ProxyCPUus = per(after.proxy - before.proxy)
	}
	if cfg.NodePID > 0 {
		r.NodeCPUus = per(after.node - before.node)
	}
	r.ClientCPUus = per(after.self - before.self)
	if cfg.MetricsURL != "" {
		r.AllocsPerReq = (after.mallocs - before.mallocs) / float64(r.Requests)
	}
	return r
}

// percentile returns the q-quantile of sorted durations (nearest rank).
func percentile(sorted []time.Duration, q float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(q*float64(len(sorted))+0.5) - 1
	return sorted[min(max(i, 0), len(sorted)-1)]
}

func micros(d time.Duration) float64 { return float64(d) / float64(time.Microsecond) }
