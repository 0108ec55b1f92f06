package gateway

import (
	_ "embed"
	"encoding/json"
	"net/http"

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
		for _, nd := range v.All {
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
			})
		}
		st.Networks = append(st.Networks, ns)
	}
	return st
}

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
		}
		out = append(out, mn)
	}
	return out
}
