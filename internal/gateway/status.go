package gateway

import (
	_ "embed"
	"encoding/json"
	"github.com/evmgate/evmgate/internal/methodset"
	"math"
	"net/http"
	"slices"
	"strconv"
	"time"

	"github.com/evmgate/evmgate/internal/balancer"
	"github.com/evmgate/evmgate/internal/engine"
	"github.com/evmgate/evmgate/internal/metrics"
	"github.com/evmgate/evmgate/internal/upstream"
	"github.com/evmgate/evmgate/internal/ws"
)

// Status is the JSON answer of GET /status.
type Status struct {
	// Version counts node state changes since start: GET
	// /status?version=N&wait=D answers as soon as it is no longer N, or
	// after D.
	Version  uint64          `json:"version"`
	Networks []NetworkStatus `json:"networks"`
	// Engine is the Engine API multiplexer, when engine.enabled.
	Engine *engine.Overview `json:"engine,omitempty"`
}

// NetworkStatus is one network in Status.
type NetworkStatus struct {
	Name        string       `json:"name"`
	ChainID     uint64       `json:"chain_id"`
	Head        uint64       `json:"head"`
	ServingTier string       `json:"serving_tier"`
	Healthy     int          `json:"healthy_nodes"`
	Nodes       []NodeStatus `json:"nodes"`
	// Queue is the scheduler's waiting calls per priority class.
	Queue []QueueStatus `json:"queue"`
	// WebSocket is the network's WebSocket clients and subscriptions.
	WebSocket *ws.NetworkStats `json:"websocket,omitempty"`
	// Hedging says whether slow reads get a second copy (hedge.enabled).
	Hedging bool `json:"hedging"`
	// MethodTimeouts are the methods with a try timeout of their own
	// (method_timeouts), as durations ("2m0s").
	MethodTimeouts map[string]string `json:"method_timeouts,omitempty"`
}

// QueueStatus is one priority class of a network's scheduler.
type QueueStatus struct {
	Class    string `json:"class"`
	Depth    int    `json:"depth"`
	Capacity int    `json:"capacity"`
}

// NodeStatus is one node in Status.
type NodeStatus struct {
	Name      string  `json:"name"`
	Tier      string  `json:"tier"`
	State     string  `json:"state"`
	Eligible  bool    `json:"eligible"`
	Head      uint64  `json:"head"`
	Lag       int64   `json:"lag"`
	LatencyMS float64 `json:"latency_ms"`
	Load      float64 `json:"load"`
	InFlight  int64   `json:"in_flight"`
	ChainID   uint64  `json:"chain_id"`
	Failures  int     `json:"failures"`
	// Reason says why the node is not eligible, empty when it is: what the
	// health check saw when it took the node out (a probe's error, the
	// chain id, a failed attestation), or the rule it fails while it
	// answers (lagging N blocks, ahead of the confirmed head).
	Reason string `json:"reason,omitempty"`
	// Attestation is set for attested nodes.
	Attestation *AttestationStatus `json:"attestation,omitempty"`
	// Share is the node's fraction of the network's recent calls (a count
	// decaying over upstream.RateWindow; retries count on the node tried),
	// 0 for every node when the network had none.
	Share          float64 `json:"share"`
	CallsPerSecond float64 `json:"calls_per_second"`
	// ErrorRate is the fraction of the node's tries that failed over the
	// last minute (client cancels left out; a try that failed for the
	// call's own doing counts as answered: a body over the node's limit,
	// an answer over the gateway's, the call's own deadline); absent
	// without tries.
	ErrorRate *float64 `json:"error_rate,omitempty"`
	// Breaker is the node's circuit breaker: closed, open (no calls) or
	// half_open (the next call is a trial); absent when breakers are off.
	Breaker string `json:"breaker,omitempty"`
	// History is how much old state the node keeps: "archive", "full" or
	// "unknown" (not configured and not detected yet). StateWindow is a
	// full node's window in blocks; HistorySource says whether the history
	// was "configured" or "detected".
	History       string `json:"history"`
	StateWindow   uint64 `json:"state_window,omitempty"`
	HistorySource string `json:"history_source"`
	// MissingMethods are the methods the node answered "method not found"
	// for lately: calls of them go to other nodes first.
	MissingMethods []string `json:"missing_methods,omitempty"`
	// Methods are the node's configured methods lists, absent without.
	Methods *methodset.Lists `json:"methods,omitempty"`
	// RateLimit is the node's configured cap on calls, absent without.
	RateLimit *RateLimitStatus `json:"rate_limit,omitempty"`
	// CoolingDownMS is how much longer the node is passed over after it
	// answered that calls come too fast (HTTP 429 or a rate limit error);
	// absent when it is not.
	CoolingDownMS int64 `json:"cooling_down_ms,omitempty"`
}

// RateLimitStatus is a node's rate_limit.
type RateLimitStatus struct {
	Rate  float64 `json:"rate"`
	Burst int     `json:"burst"`
	// Shared: the limit is one for every replica (rate_limit.shared).
	Shared bool `json:"shared,omitempty"`
	// SharedState is a shared limit's state: "ok" (counted in Redis),
	// "starting" (Redis has not answered yet), "fallback" (Redis cannot
	// be reached: this replica counts the node's calls alone meanwhile).
	SharedState string `json:"shared_state,omitempty"`
}

// rateLimitStatus returns nd's rate limit for the status report.
func rateLimitStatus(nd *upstream.Node) *RateLimitStatus {
	rate, burst := nd.RateLimited()
	if rate == 0 {
		return nil
	}
	shared, state := nd.SharedLimit()
	return &RateLimitStatus{Rate: rate, Burst: burst, Shared: shared, SharedState: state}
}

// AttestationStatus is an attested node's last certificate verification.
type AttestationStatus struct {
	Type     string `json:"type"`
	Nonce    bool   `json:"nonce"`
	Verified bool   `json:"verified"`
	// Reason is the failure's short reason (measurement, signature,
	// key_binding, nonce, expired, revoked, ...), Error its full text.
	Reason string    `json:"reason,omitempty"`
	Error  string    `json:"error,omitempty"`
	At     time.Time `json:"checked_at,omitzero"`
}

func attestationStatus(nd *upstream.Node) *AttestationStatus {
	if nd.Attest == nil {
		return nil
	}
	spec := nd.Attest.Spec()
	st := &AttestationStatus{Type: string(spec.Type), Nonce: spec.Nonce}
	if r := nd.Attest.Last(); r != nil {
		st.Verified, st.Reason, st.Error, st.At = r.OK, string(r.Reason), r.Error, r.At
	}
	return st
}

// Status returns the state of every network and node.
func (g *Gateway) Status() Status {
	version, _ := g.events.changes.current()
	st := Status{Version: version, Networks: []NetworkStatus{}}
	var wsStats []ws.NetworkStats
	if g.ws != nil {
		wsStats = g.ws.Stats()
	}
	for _, n := range g.networks() {
		ns := g.networkStatus(n)
		if g.ws != nil {
			ns.WebSocket = &ws.NetworkStats{Network: n.cfg.Name}
			if i := slices.IndexFunc(wsStats, func(s ws.NetworkStats) bool { return s.Network == n.cfg.Name }); i >= 0 {
				ns.WebSocket = &wsStats[i]
			}
		}
		st.Networks = append(st.Networks, ns)
	}
	if g.engine != nil {
		o := g.engine.Overview()
		st.Engine = &o
	}
	return st
}

func (g *Gateway) networkStatus(n *network) NetworkStatus {
	v := n.pool.View()
	ns := NetworkStatus{Name: n.cfg.Name, ChainID: n.monitor.ExpectedChainID(), Head: v.Head, ServingTier: v.Serving.String(),
		Nodes: []NodeStatus{}, Queue: n.queue.Status(), Hedging: n.hedge != nil,
		MethodTimeouts: n.cfg.MethodTimeoutStrings()}
	if len(v.Active) == 0 {
		ns.ServingTier = "none"
	}
	recent := make([]float64, len(v.All))
	for i, nd := range v.All {
		recent[i] = nd.RecentCalls()
	}
	shares := callShares(recent)
	errRates := g.history.errorRates(n.cfg.Name)
	for i, nd := range v.All {
		el := v.Eligible(nd)
		if el {
			ns.Healthy++
		}
		lag := int64(0)
		if nd.HasHead() {
			lag = int64(v.Head) - int64(nd.Head())
		}
		ns.Nodes = append(ns.Nodes, NodeStatus{
			Name: nd.Name, Tier: nd.Tier.String(), State: nd.State().String(), Eligible: el,
			Head: nd.Head(), Lag: lag, LatencyMS: float64(nd.Latency().Microseconds()) / 1000,
			Load: nd.Load(), InFlight: nd.InFlight(), ChainID: nd.ChainID(), Failures: nd.Failures(),
			Reason: reason(n, v, nd), Attestation: attestationStatus(nd), ErrorRate: rate(errRates, nd.Name),
			Share: round3(shares[i]), CallsPerSecond: round3(recent[i] / upstream.RateWindow.Seconds()),
			Breaker: n.breakerState(nd), MissingMethods: nd.Missing(), Methods: nd.Methods.Lists(),
			RateLimit: rateLimitStatus(nd), CoolingDownMS: nd.CoolingDown().Milliseconds(),
		})
		setHistory(&ns.Nodes[len(ns.Nodes)-1], nd)
	}
	return ns
}

// minShareCalls is the fewest recent calls (a count decaying with time
// constant upstream.RateWindow) for which the network's nodes show shares:
// one call shows for about 16 s. Both sides of a share decay alike, so
// without it the last shares stayed on the page long after the calls
// stopped.
const minShareCalls = 0.2

// callShares is each node's fraction of the recent calls; all 0 once the
// network has had (almost) none for a while.
func callShares(recent []float64) []float64 {
	total := 0.0
	for _, r := range recent {
		total += r
	}
	shares := make([]float64, len(recent))
	if total < minShareCalls {
		return shares
	}
	for i, r := range recent {
		shares[i] = r / total
	}
	return shares
}

// reason says why nd is not eligible in v: the health check's words when
// its state keeps it out, else the selection rule it fails.
func reason(n *network, v *balancer.View, nd *upstream.Node) string {
	r := n.pool.Reason(v, nd)
	if r == "" {
		return ""
	}
	if nd.State() != upstream.Up {
		if why := nd.Reason(); why != "" {
			return why
		}
	}
	return r
}

// round3 keeps three decimals: the figures are estimates.
func round3(x float64) float64 { return math.Round(x*1000) / 1000 }

func rate(rates map[string]float64, node string) *float64 {
	r, ok := rates[node]
	if !ok {
		return nil
	}
	r = math.Round(r*10000) / 10000
	return &r
}

// maxStatusWait bounds a long poll of GET /status.
const maxStatusWait = 30 * time.Second

func (g *Gateway) serveStatus(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	if q.Has("wait") || q.Has("version") {
		d, err := time.ParseDuration(q.Get("wait"))
		if err != nil || d < 0 || d > maxStatusWait {
			http.Error(w, "wait: want a duration up to 30s, e.g. wait=1s", http.StatusBadRequest)
			return
		}
		seen, err := strconv.ParseUint(q.Get("version"), 10, 64)
		if err != nil {
			http.Error(w, "version: want the version of the last answer, e.g. version=3", http.StatusBadRequest)
			return
		}
		g.events.changes.wait(r.Context(), seen, d)
	}
	b, _ := json.MarshalIndent(g.Status(), "", "  ")
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(append(b, '\n'))
}

// serveReady answers 200 when every network has an eligible node, else 503
// naming the networks without one.
func (g *Gateway) serveReady(w http.ResponseWriter, _ *http.Request) {
	var missing []string
	for _, n := range g.networks() {
		if len(n.pool.View().Active) == 0 {
			missing = append(missing, n.cfg.Name)
		}
	}
	w.Header().Set("Content-Type", "application/json")
	if len(missing) > 0 {
		w.WriteHeader(http.StatusServiceUnavailable)
		b, _ := json.Marshal(map[string]any{"status": "not ready", "networks_without_healthy_node": missing})
		_, _ = w.Write(append(b, '\n'))
		return
	}
	_, _ = w.Write([]byte(`{"status":"ready"}` + "\n"))
}

//go:embed status.html
var statusPage []byte

func serveStatusPage(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-cache")
	_, _ = w.Write(statusPage)
}

// serveHistory answers the charts' samples; ?since=T (Unix milliseconds)
// returns only the samples taken after T.
func (g *Gateway) serveHistory(w http.ResponseWriter, r *http.Request) {
	var since int64
	if v := r.URL.Query().Get("since"); v != "" {
		var err error
		if since, err = strconv.ParseInt(v, 10, 64); err != nil {
			http.Error(w, "since: want Unix milliseconds, e.g. since=1700000000000", http.StatusBadRequest)
			return
		}
	}
	b, _ := json.Marshal(g.history.snapshot(since))
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	_, _ = w.Write(append(b, '\n'))
}

var stateNames = func() []string {
	out := make([]string, len(upstream.States))
	for i, s := range upstream.States {
		out[i] = s.String()
	}
	return out
}()

// snapshot feeds the metrics' gauges at scrape time.
func (g *Gateway) snapshot() []metrics.Network {
	out := make([]metrics.Network, 0, len(g.networks()))
	for _, n := range g.networks() {
		v := n.pool.View()
		mn := metrics.Network{
			Name: n.cfg.Name, Head: v.Head, Eligible: len(v.Active) + len(v.Backup),
			QueueDepth: n.queue.Depth(), QueueCapacity: n.queue.Capacity(),
		}
		for _, nd := range v.All {
			behind := uint64(0)
			if nd.HasHead() && nd.Head() < v.Head {
				behind = v.Head - nd.Head()
			}
			mn.Nodes = append(mn.Nodes, metrics.Node{
				Name: nd.Name, Tier: nd.Tier.String(), State: nd.State().String(), States: stateNames,
				Head: nd.Head(), Behind: behind, Latency: nd.Latency().Seconds(), Load: nd.Load(),
				InFlight: nd.InFlight(), Best: len(v.Active) > 0 && v.Active[0] == nd, Breaker: n.breakerState(nd),
			})
			attestationMetrics(nd, &mn.Nodes[len(mn.Nodes)-1])
			if shared, state := nd.SharedLimit(); shared {
				ok := state != "fallback" // an idle replica that has not asked yet is not alone
				mn.Nodes[len(mn.Nodes)-1].SharedLimit = &ok
			}
		}
		out = append(out, mn)
	}
	return out
}

// attestationMetrics fills an attested node's verification state.
func attestationMetrics(nd *upstream.Node, m *metrics.Node) {
	if nd.Attest == nil {
		return
	}
	ok := false
	if r := nd.Attest.Last(); r != nil {
		ok = r.OK
	}
	fails := map[string]uint64{}
	for reason, c := range nd.Attest.Failures() {
		fails[string(reason)] = c
	}
	m.Attested, m.AttestationFails = &ok, fails
}
