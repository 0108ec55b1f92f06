package gateway

import (
	"fmt"
	"github.com/evmgate/evmgate/internal/cache"
	"github.com/evmgate/evmgate/internal/logsplit"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/evmgate/evmgate/internal/attest"
	"github.com/evmgate/evmgate/internal/balancer"
	"github.com/evmgate/evmgate/internal/breaker"
	"github.com/evmgate/evmgate/internal/config"
	"github.com/evmgate/evmgate/internal/consistent"
	"github.com/evmgate/evmgate/internal/health"
	"github.com/evmgate/evmgate/internal/hedge"
	"github.com/evmgate/evmgate/internal/methodset"
	"github.com/evmgate/evmgate/internal/nodeurl"
	"github.com/evmgate/evmgate/internal/proxy"
	"github.com/evmgate/evmgate/internal/sched"
	"github.com/evmgate/evmgate/internal/upstream"
)

// network is one network's runtime.
type network struct {
	cfg      config.Network
	pool     *balancer.Pool
	monitor  *health.Monitor
	queue    *queued
	cache    *cache.Network // nil: no response cache for the network
	logs     *logsplit.Splitter
	hedge    *hedge.Policy // nil: hedging off
	breakers *breaker.Set  // nil: circuit breakers off
	// consistent keeps named clients' reads consistent; nil: off.
	consistent *consistent.Tracker
	mu         sync.Mutex // mu serialises node set changes
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

// newNode builds a node of network n; with http_over_ws its calls go over
// the node's shared WebSocket connection.
func (g *Gateway) newNode(n config.Network, spec upstream.Spec, nd config.Node) *upstream.Node {
	return upstream.New(g.transport(n, spec, nd))
}

// transport sets spec.Transport when the node's calls go over its shared
// WebSocket connection (http_over_ws), and spec.WSTransport when its
// network n serves the REST routes (rest_api). n is the network's
// configuration in force, which a reload changes.
func (g *Gateway) transport(n config.Network, spec upstream.Spec, nd config.Node) upstream.Spec {
	spec.OnCoolDown = g.events.CoolingDown
	if g.limits != nil {
		spec.WantLease = g.limits.Want
	} else if spec.RateLimit.Shared {
		// Redis came with a reload, which connects to it only on restart.
		g.log.Warn("node rate limit not shared: rate_limit.shared needs redis_url, which takes effect on restart; "+
			"this replica counts the node's calls on its own until then", "network", spec.Network, "node", spec.Name)
		spec.RateLimit.Shared = false
	}
	if nd.HTTPOverWS && spec.WSURL != "" && g.ws != nil {
		g.log.Debug("node calls go over its WebSocket", "node", spec.Name)
		spec.Transport = g.ws.Transport(spec)
	}
	if spec.WSURL != "" && g.ws != nil && n.RESTAPI {
		spec.WSTransport = g.ws.Transport(spec) // the REST API's /ws/ routes and socket2socket
	}
	return spec
}

// NodeSpec turns a configured node into an upstream spec. An attested
// node gets its check from v, and URLs without the SEV_/SGX_ user info
// (which is never sent to the node).
func NodeSpec(n config.Network, nd config.Node, tier upstream.Tier, v *attest.Verifier) (upstream.Spec, error) {
	att, rpcURL, wsURL, err := nd.AttestationOf()
	if err != nil {
		return upstream.Spec{}, err
	}
	raw, workers, err := sched.ParseWorkers(rpcURL)
	if err != nil {
		return upstream.Spec{}, err
	}
	var check *attest.Node
	if att != nil {
		if check, err = v.Node(*att); err != nil {
			return upstream.Spec{}, err
		}
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
		name = nodeurl.Redact(raw)
	}
	return upstream.Spec{
		Name: name, Network: n.Name, Tier: tier, URL: raw, WSURL: wsURL,
		PrometheusURL: nd.PrometheusEndpoint, Headers: hdr, Weight: nd.Weight,
		MaxConcurrency: conc, Gzip: gz, Timeout: n.RPCTimeout.D(), Attest: check,
		State: stateMode(nd), StateWindow: nd.StateWindow, Methods: methodset.NewFilter(nd.Methods),
		RateLimit: upstream.RateLimit(nd.RateLimit),
	}, nil
}

func buildNetwork(n config.Network, sc config.Scheduler, events health.Events, g *Gateway) (*network, error) {
	r, err := rules(n)
	if err != nil {
		return nil, fmt.Errorf("networks %q: %w", n.Name, err)
	}
	var nodes []*upstream.Node
	for tier, list := range [][]config.Node{n.LocalNodes, n.MonitoringNodes, n.FallbackNodes} {
		for _, nd := range list {
			spec, err := NodeSpec(n, nd, upstream.Tier(tier), g.attest)
			if err != nil {
				return nil, fmt.Errorf("networks %q node %s: %w", n.Name, nd.DisplayName(), err)
			}
			spec.Source = nd.RPCEndpoint
			nodes = append(nodes, g.newNode(n, spec, nd))
		}
	}
	pool := balancer.NewPool(r, nodes)
	mon := health.New(healthSettings(n), pool, g.log.With("network", n.Name), events)
	q, err := newQueued(sc, n.Name, pool, g)
	if err != nil {
		return nil, err
	}
	hp, err := g.hedging(n)
	if err != nil {
		return nil, err
	}
	bs, err := g.breakers(n)
	if err != nil {
		return nil, err
	}
	ct, err := consistentTracker(n, nil)
	if err != nil {
		return nil, fmt.Errorf("networks %q: %w", n.Name, err)
	}
	return &network{cfg: n, pool: pool, monitor: mon, queue: q, cache: g.networkCache(n, mon), logs: g.splitter(n, mon),
		hedge: hp, breakers: bs, consistent: ct}, nil
}

// splitter bounds and splits the network's eth_getLogs calls.
func (g *Gateway) splitter(n config.Network, mon *health.Monitor) *logsplit.Splitter {
	return logsplit.New(n.Name, logsplit.Config{
		MaxRange: n.MaxLogsBlockRange, Split: *n.LogsSplit, ChunkBlocks: n.LogsChunkBlocks, Concurrency: n.LogsSplitConcurrency,
	}, mon.Finalized, g.logs)
}

// healthSettings are a network's probing settings.
func healthSettings(n config.Network) health.Settings {
	return health.Settings{
		Network: n.Name, ChainID: n.ChainID,
		LocalInterval: n.LocalPollInterval.D(), OtherInterval: n.MonitoringPollInterval.D(),
		Timeout: min(n.RPCTimeout.D(), 10*time.Second), DownAfter: n.DownAfter, MaxBlockAge: n.MaxBlockAge.D(),
		UseLoadTracker: n.UseLoadTracker, LoadPeriod: n.LoadPeriod,
	}
}

// proxyNetwork is what the JSON-RPC handler serves of n.
func (n *network) proxyNetwork() *proxy.Network {
	return &proxy.Network{
		Name: n.cfg.Name, Pool: n.pool, Health: n.observer(), Sched: n.queue, Retries: *n.cfg.RPCRetries, TryTimeout: n.cfg.RPCTimeout.D(),
		Paths: n.cfg.Paths, Cache: n.cache, Logs: n.logs, Hedge: n.hedge, Consistent: n.consistent,
		Broadcast: n.cfg.BroadcastTransactions, MethodTimeouts: methodset.NewLongest(n.cfg.Timeouts()),
	}
}

func proxyNetworks(nets []*network) []*proxy.Network {
	out := make([]*proxy.Network, len(nets))
	for i, n := range nets {
		out[i] = n.proxyNetwork()
	}
	return out
}

// proxyOptions are the JSON-RPC handler's limits.
func proxyOptions(cfg *config.Config) proxy.Options {
	return proxy.Options{
		MaxBodyBytes: cfg.MaxBodyBytes, MaxBatchSize: cfg.MaxBatchSize,
		RequestTimeout: cfg.RequestTimeout.D(), LogRequests: *cfg.LogRequests,
		Compress: *cfg.ResponseCompression.Enabled, CompressMinBytes: *cfg.ResponseCompression.MinBytes,
	}
}
