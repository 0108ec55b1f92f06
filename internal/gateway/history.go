package gateway

import (
	"context"
	"math"
	"slices"
	"strconv"
	"sync"
	"time"
)

// The status page's charts: one sample a second for five minutes, kept by
// the gateway so that a reloaded page shows the last minutes at once.
const (
	historyInterval = time.Second
	historyLen      = 300
	// errorWindow is how many of the latest samples a node's error_rate in
	// GET /status covers.
	errorWindow = 60
)

// reading is the cumulative counters and live values of every network at
// one instant; history turns successive readings into rates.
type reading struct {
	at   time.Time
	nets []netReading
}

type netReading struct {
	name    string
	calls   float64   // JSON-RPC calls answered since start
	bounds  []float64 // request duration histogram: upper bounds, seconds
	buckets []uint64  // cumulative counts per bound
	count   uint64    // requests observed
	nodes   []nodeReading
}

type nodeReading struct {
	name   string
	lag    float64 // NaN without a head
	tries  float64 // tries since start, client cancels left out
	errors float64 // failed tries since start
}

// sample is one second of the history.
type sample struct {
	at   time.Time
	nets []netSample
}

type netSample struct {
	name     string
	calls    float64 // per second
	p50, p99 float64 // ms; NaN without requests
	nodes    []nodeSample
}

type nodeSample struct {
	name          string
	lag           float64 // NaN without a head
	calls         float64 // tries per second
	tries, errors float64 // in the interval
}

// history keeps the last historyLen samples. Its goroutine, started by
// start, takes one reading a second until Close.
type history struct {
	mu      sync.Mutex // mu protects samples, prev
	samples []sample   // oldest first, at most historyLen
	prev    map[string]netReading

	cancel context.CancelFunc
	done   chan struct{}
}

func newHistory() *history { return &history{prev: map[string]netReading{}} }

// start takes a reading every historyInterval until Close.
func (h *history) start(read func(time.Time) reading) {
	ctx, cancel := context.WithCancel(context.Background())
	h.cancel, h.done = cancel, make(chan struct{})
	go func() {
		defer close(h.done)
		t := time.NewTicker(historyInterval)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case now := <-t.C:
				h.add(read(now))
			}
		}
	}()
}

// Close stops the sampling goroutine and waits for it.
func (h *history) Close() {
	if h.cancel != nil {
		h.cancel()
		<-h.done
	}
}

// add turns r into rates against the previous reading and appends them.
// The first reading counts from zero: counters start with the gateway. A
// network or node that appears later has no rate in its first sample.
func (h *history) add(r reading) {
	h.mu.Lock()
	defer h.mu.Unlock()
	var last time.Time
	if len(h.samples) > 0 {
		last = h.samples[len(h.samples)-1].at
	}
	dt := historyInterval.Seconds()
	if !last.IsZero() && r.at.After(last) {
		dt = r.at.Sub(last).Seconds()
	}
	s := sample{at: r.at, nets: make([]netSample, 0, len(r.nets))}
	first := len(h.samples) == 0
	seen := make(map[string]netReading, len(r.nets))
	for _, nr := range r.nets {
		prev, ok := h.prev[nr.name]
		switch {
		case ok || first:
			s.nets = append(s.nets, rates(prev, nr, dt, first))
		default: // a network a reload added: its counters may predate it
			s.nets = append(s.nets, noRates(nr))
		}
		seen[nr.name] = nr
	}
	h.prev = seen // a network a reload removed is forgotten
	if len(h.samples) == historyLen {
		h.samples = slices.Delete(h.samples, 0, 1)
	}
	h.samples = append(h.samples, s)
}

// rates compares two readings of a network dt seconds apart; fromZero
// takes a node missing from prev as counted from zero.
func rates(prev, cur netReading, dt float64, fromZero bool) netSample {
	ns := netSample{name: cur.name, calls: max(cur.calls-prev.calls, 0) / dt, p50: math.NaN(), p99: math.NaN()}
	if cur.count > prev.count && len(cur.buckets) == len(cur.bounds) {
		delta := make([]uint64, len(cur.buckets))
		for i, c := range cur.buckets {
			delta[i] = c
			if i < len(prev.buckets) {
				delta[i] -= min(prev.buckets[i], c)
			}
		}
		total := cur.count - prev.count
		ns.p50 = quantile(0.5, cur.bounds, delta, total) * 1000
		ns.p99 = quantile(0.99, cur.bounds, delta, total) * 1000
	}
	before := make(map[string]nodeReading, len(prev.nodes))
	for _, n := range prev.nodes {
		before[n.name] = n
	}
	for _, n := range cur.nodes {
		p, ok := before[n.name]
		if !ok && !fromZero {
			ns.nodes = append(ns.nodes, nodeSample{name: n.name, lag: n.lag, calls: math.NaN()})
			continue
		}
		tries, errs := max(n.tries-p.tries, 0), max(n.errors-p.errors, 0)
		ns.nodes = append(ns.nodes, nodeSample{name: n.name, lag: n.lag, calls: tries / dt, tries: tries, errors: errs})
	}
	return ns
}

// noRates is the first sample of a network that appeared after start: its
// lags, and no rate yet.
func noRates(cur netReading) netSample {
	ns := netSample{name: cur.name, calls: math.NaN(), p50: math.NaN(), p99: math.NaN()}
	for _, n := range cur.nodes {
		ns.nodes = append(ns.nodes, nodeSample{name: n.name, lag: n.lag, calls: math.NaN()})
	}
	return ns
}

// quantile estimates the q-quantile of total observations from cumulative
// bucket counts, interpolating linearly inside the bucket that holds it
// (as Prometheus' histogram_quantile does). Observations above the last
// bound are reported at the last bound.
func quantile(q float64, bounds []float64, cumulative []uint64, total uint64) float64 {
	if total == 0 || len(bounds) == 0 {
		return math.NaN()
	}
	rank := q * float64(total)
	lower, below := 0.0, 0.0
	for i, ub := range bounds {
		c := float64(cumulative[i])
		if c >= rank && c > below {
			return lower + (ub-lower)*(rank-below)/(c-below)
		}
		lower, below = ub, c
	}
	return bounds[len(bounds)-1]
}

// errorRates returns, per node of network, the fraction of its tries that
// failed over the last errorWindow samples; nodes without tries are left
// out.
func (h *history) errorRates(network string) map[string]float64 {
	h.mu.Lock()
	defer h.mu.Unlock()
	tries, errs := map[string]float64{}, map[string]float64{}
	for _, s := range h.samples[max(len(h.samples)-errorWindow, 0):] {
		for _, ns := range s.nets {
			if ns.name != network {
				continue
			}
			for _, n := range ns.nodes {
				tries[n.name] += n.tries
				errs[n.name] += n.errors
			}
		}
	}
	out := make(map[string]float64, len(tries))
	for name, t := range tries {
		if t > 0 {
			out[name] = errs[name] / t
		}
	}
	return out
}

// History is the JSON answer of GET /status/history: per network, aligned
// series of one value a second, oldest first (null where there was none).
type History struct {
	IntervalSeconds float64          `json:"interval_seconds"`
	Networks        []NetworkHistory `json:"networks"`
}

// NetworkHistory is one network in History.
type NetworkHistory struct {
	Name string `json:"name"`
	// Time is each sample's time, Unix milliseconds.
	Time           []int64       `json:"time"`
	CallsPerSecond series        `json:"calls_per_second"`
	LatencyP50MS   series        `json:"latency_p50_ms"`
	LatencyP99MS   series        `json:"latency_p99_ms"`
	Nodes          []NodeHistory `json:"nodes"`
}

// NodeHistory is one node in NetworkHistory.
type NodeHistory struct {
	Name           string `json:"name"`
	Lag            series `json:"lag"`
	CallsPerSecond series `json:"calls_per_second"`
}

// series is a chart's values; NaN is written as null.
type series []float64

func (s series) MarshalJSON() ([]byte, error) {
	b := make([]byte, 0, 2+6*len(s))
	b = append(b, '[')
	for i, v := range s {
		if i > 0 {
			b = append(b, ',')
		}
		if math.IsNaN(v) || math.IsInf(v, 0) {
			b = append(b, "null"...)
			continue
		}
		b = strconv.AppendFloat(b, math.Round(v*1000)/1000, 'f', -1, 64)
	}
	return append(b, ']'), nil
}

// snapshot returns the samples taken after the Unix millisecond since
// (every sample when it is 0), in the order of the networks and nodes of
// the latest sample.
func (h *history) snapshot(since int64) History {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := History{IntervalSeconds: historyInterval.Seconds(), Networks: []NetworkHistory{}}
	first := len(h.samples)
	for first > 0 && h.samples[first-1].at.UnixMilli() > since {
		first--
	}
	picked := h.samples[first:]
	if len(picked) == 0 {
		return out
	}
	for _, ns := range picked[len(picked)-1].nets {
		out.Networks = append(out.Networks, networkHistory(ns.name, picked))
	}
	return out
}

func networkHistory(name string, samples []sample) NetworkHistory {
	nh := NetworkHistory{Name: name, Time: make([]int64, len(samples)),
		CallsPerSecond: nanSeries(len(samples)), LatencyP50MS: nanSeries(len(samples)), LatencyP99MS: nanSeries(len(samples))}
	index := map[string]int{}
	node := func(n string) *NodeHistory {
		i, ok := index[n]
		if !ok {
			i = len(nh.Nodes)
			index[n] = i
			nh.Nodes = append(nh.Nodes, NodeHistory{Name: n, Lag: nanSeries(len(samples)), CallsPerSecond: nanSeries(len(samples))})
		}
		return &nh.Nodes[i]
	}
	// Nodes of the latest sample first, in their order.
	for _, ns := range samples[len(samples)-1].nets {
		if ns.name == name {
			for _, n := range ns.nodes {
				node(n.name)
			}
		}
	}
	for i, s := range samples {
		nh.Time[i] = s.at.UnixMilli()
		for _, ns := range s.nets {
			if ns.name != name {
				continue
			}
			nh.CallsPerSecond[i], nh.LatencyP50MS[i], nh.LatencyP99MS[i] = ns.calls, ns.p50, ns.p99
			for _, n := range ns.nodes {
				nd := node(n.name)
				nd.Lag[i], nd.CallsPerSecond[i] = n.lag, n.calls
			}
		}
	}
	return nh
}

func nanSeries(n int) series {
	s := make(series, n)
	for i := range s {
		s[i] = math.NaN()
	}
	return s
}
