package gateway

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/evmgate/evmgate/internal/balancer"
	"github.com/evmgate/evmgate/internal/config"
	"github.com/evmgate/evmgate/internal/health"
	"github.com/evmgate/evmgate/internal/restapi"
	"github.com/evmgate/evmgate/internal/sched"
	"github.com/evmgate/evmgate/internal/upstream"
)

// network is one network's runtime.
type network struct {
	cfg     config.Network
	pool    *balancer.Pool
	monitor *health.Monitor
	queue   *queued
	mu      sync.Mutex // mu serialises node set changes
}

// rules turns a network's configuration into selection rules.
func rules(n config.Network) (balancer.Rules, error) {
	st, err := balancer.NewStrategy(n.Strategy)
	if err != nil {
		return balancer.Rules{}, err
	}
	r := balancer.Rules{
		NetworkBlockDiff:  n.NetworkBlockDiff,
		FallbackBlockDiff: n.FallbackBlockDiff,
		SwitchToFallback:  n.SwitchToFallbackEnabled,
		SwitchThreshold:   n.SwitchToFallbackBlockThreshold,
		Strategy:          st,
	}
	for _, c := range n.LoadBalancePriority {
		switch c {
		case "chainhead":
			r.Priority = append(r.Priority, balancer.ByChainhead)
		case "latency":
			r.Priority = append(r.Priority, balancer.ByLatency)
		case "load":
			r.Priority = append(r.Priority, balancer.ByLoad)
		}
	}
	return r, nil
}

// newNode builds a node; with http_over_ws its calls go over the node's
// shared WebSocket connection.
func (g *Gateway) newNode(spec upstream.Spec, nd config.Node) *upstream.Node {
	if nd.HTTPOverWS && spec.WSURL != "" && g.ws != nil {
		g.log.Debug("node calls go over its WebSocket", "node", spec.Name)
		spec.Transport = g.ws.Transport(spec)
	}
	if spec.WSURL != "" && g.ws != nil && slices.Contains(restapi.Networks(g.cfg), spec.Network) {
		spec.WSTransport = g.ws.Transport(spec) // the REST API's /ws/ routes and socket2socket
	}
	return upstream.New(spec)
}

// NodeSpec turns a configured node into an upstream spec.
func NodeSpec(n config.Network, nd config.Node, tier upstream.Tier) (upstream.Spec, error) {
	raw, workers, err := sched.ParseWorkers(nd.RPCEndpoint)
	if err != nil {
		return upstream.Spec{}, err
	}
	conc := nd.MaxConcurrency
	if workers > 0 {
		conc = workers
	}
	gz := strings.HasPrefix(raw, "https:")
	if nd.Gzip != nil {
		gz = *nd.Gzip
	}
	hdr := http.Header{}
	for k, v := range nd.Headers {
		hdr.Set(k, v)
	}
	name := nd.Name
	if name == "" {
		name = config.Redact(raw)
	}
	return upstream.Spec{
		Name: name, Network: n.Name, Tier: tier, URL: raw, WSURL: nd.WSEndpoint,
		PrometheusURL: nd.PrometheusEndpoint, Headers: hdr, Weight: nd.Weight,
		MaxConcurrency: conc, Gzip: gz, Timeout: n.RPCTimeout.D(),
	}, nil
}

func buildNetwork(n config.Network, events health.Events, g *Gateway) (*network, error) {
	r, err := rules(n)
	if err != nil {
		return nil, fmt.Errorf("networks %q: %w", n.Name, err)
	}
	var nodes []*upstream.Node
	for tier, list := range [][]config.Node{n.LocalNodes, n.MonitoringNodes, n.FallbackNodes} {
		for _, nd := range list {
			spec, err := NodeSpec(n, nd, upstream.Tier(tier))
			if err != nil {
				return nil, fmt.Errorf("networks %q node %s: %w", n.Name, nd.DisplayName(), err)
			}
			spec.Source = nd.RPCEndpoint
			nodes = append(nodes, g.newNode(spec, nd))
		}
	}
	pool := balancer.NewPool(r, nodes)
	mon := health.New(health.Settings{
		Network: n.Name, ChainID: n.ChainID,
		LocalInterval: n.LocalPollInterval.D(), OtherInterval: n.MonitoringPollInterval.D(),
		Timeout: min(n.RPCTimeout.D(), 10*time.Second), DownAfter: n.DownAfter, MaxBlockAge: n.MaxBlockAge.D(),
		UseLoadTracker: n.UseLoadTracker, LoadPeriod: n.LoadPeriod,
	}, pool, g.log.With("network", n.Name), events)
	return &network{cfg: n, pool: pool, monitor: mon, queue: newQueued(g.cfg.Scheduler, n.Name, pool, g)}, nil
}
