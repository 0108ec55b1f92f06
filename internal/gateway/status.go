package gateway

import (
	_ "embed"
	"encoding/json"
	"math"
	"net/http"
	"time"

	"github.com/evmgate/evmgate/internal/metrics"
	"github.com/evmgate/evmgate/internal/upstream"
)

// Status is the JSON answer of GET /status.
type Status struct {
	Networks []NetworkStatus `json:"networks"`
}

// NetworkStatus is one network in Status.
type NetworkStatus struct {
	Name        string       `json:"name"`
	ChainID     uint64       `json:"chain_id"`
	Head        uint64       `json:"head"`
	ServingTier string       `json:"serving_tier"`
	Healthy     int          `json:"healthy_nodes"`
	Nodes       []NodeStatus `json:"nodes"`
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
	// Reason says why the node is in its state.
	Reason string `json:"reason,omitempty"`
	// Attestation is set for attested nodes.
	Attestation *AttestationStatus `json:"attestation,omitempty"`
	// Share is the node's fraction of the network's recent calls (a count
	// decaying over upstream.RateWindow; retries count on the node tried),
	// 0 for every node when the network had none.
	Share          float64 `json:"share"`
	CallsPerSecond float64 `json:"calls_per_second"`
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
	var st Status
	for _, n := range g.networks() {
		v := n.pool.View()
		ns := NetworkStatus{Name: n.cfg.Name, ChainID: n.monitor.ExpectedChainID(), Head: v.Head, ServingTier: v.Serving.String()}
		if len(v.Active) == 0 {
			ns.ServingTier = "none"
		}
		recent := make([]float64, len(v.All))
		total := 0.0
		for i, nd := range v.All {
			recent[i] = nd.RecentCalls()
			total += recent[i]
		}
		for i, nd := range v.All {
			el := v.Eligible(nd)
			if el {
				ns.Healthy++
			}
			lag := int64(0)
			if nd.HasHead() {
				lag = int64(v.Head) - int64(nd.Head())
			}
			share := 0.0
			if total > 0 {
				share = recent[i] / total
			}
			ns.Nodes = append(ns.Nodes, NodeStatus{
				Name: nd.Name, Tier: nd.Tier.String(), State: nd.State().String(), Eligible: el,
				Head: nd.Head(), Lag: lag, LatencyMS: float64(nd.Latency().Microseconds()) / 1000,
				Load: nd.Load(), InFlight: nd.InFlight(), ChainID: nd.ChainID(), Failures: nd.Failures(),
				Reason: nd.Reason(), Attestation: attestationStatus(nd),
				Share: round3(share), CallsPerSecond: round3(recent[i] / upstream.RateWindow.Seconds()),
			})
		}
		st.Networks = append(st.Networks, ns)
	}
	return st
}

// round3 keeps three decimals: the figures are estimates.
func round3(x float64) float64 { return math.Round(x*1000) / 1000 }

func (g *Gateway) serveStatus(w http.ResponseWriter, _ *http.Request) {
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
	_, _ = w.Write(statusPage)
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
				InFlight: nd.InFlight(), Best: len(v.Active) > 0 && v.Active[0] == nd,
			})
			attestationMetrics(nd, &mn.Nodes[len(mn.Nodes)-1])
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
