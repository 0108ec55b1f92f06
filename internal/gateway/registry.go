package gateway

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net"
	"slices"
	"time"

	"github.com/evmgate/evmgate/internal/config"
	"github.com/evmgate/evmgate/internal/health"
	"github.com/evmgate/evmgate/internal/nodeurl"
	"github.com/evmgate/evmgate/internal/registry"
	"github.com/evmgate/evmgate/internal/upstream"
)

var _ registry.Applier = (*Gateway)(nil)

var tierNames = []string{"local_nodes", "monitoring_nodes", "fallback_nodes"}

// seed lists the configured nodes of every network for the registry.
func seed(cfg *config.Config) map[string][]registry.Node {
	out := map[string][]registry.Node{}
	for _, n := range cfg.Networks {
		for tier, list := range [][]config.Node{n.LocalNodes, n.MonitoringNodes, n.FallbackNodes} {
			for _, nd := range list {
				out[n.Name] = append(out[n.Name], registry.Node{
					Network: n.Name, URI: nd.RPCEndpoint, Tier: upstream.Tier(tier).String(), Name: nd.Name, Source: "config",
				})
			}
		}
	}
	return out
}

// networks returns the networks served now, in configuration order.
func (g *Gateway) networks() []*network { return *g.nets.Load() }

func (g *Gateway) network(name string) *network {
	for _, n := range g.networks() {
		if n.cfg.Name == name {
			return n
		}
	}
	return nil
}

// Networks implements registry.Applier.
func (g *Gateway) Networks() []string {
	nets := g.networks()
	out := make([]string, 0, len(nets))
	for _, n := range nets {
		out = append(out, n.cfg.Name)
	}
	return out
}

// Apply implements registry.Applier: it installs a network's node set,
// keeping the nodes that stay, with their live state. A node whose
// configured settings changed (weight, limits, headers, name) is replaced
// by one that inherits its live state.
func (g *Gateway) Apply(name string, nodes []registry.Node) error {
	n := g.network(name)
	if n == nil {
		return fmt.Errorf("unknown network %q", name)
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	old := map[string]*upstream.Node{}
	for _, u := range n.pool.Nodes() {
		old[u.Tier.String()+" "+u.Source] = u
	}
	var next, gone []*upstream.Node
	var errs []error
	for _, rn := range nodes {
		tier, ok := upstream.ParseTier(rn.Tier)
		if !ok {
			errs = append(errs, fmt.Errorf("%s: unknown tier %q", nodeurl.Redact(rn.URI), rn.Tier))
			continue
		}
		key := tier.String() + " " + rn.URI
		u, err := g.node(n, rn, tier, old[key])
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", nodeurl.Redact(rn.URI), err))
		}
		if u == nil {
			continue
		}
		if prev := old[key]; prev != nil && prev != u {
			gone = append(gone, prev)
		}
		delete(old, key)
		next = append(next, u)
	}
	for _, u := range old {
		gone = append(gone, u)
	}
	n.pool.SetNodes(next)
	n.breakers.Forget(next)
	n.hedge.Forget(next)
	n.monitor.Sync()
	n.queue.s.Kick()
	for _, u := range gone {
		u.Close() // idle connections only: calls in flight on it finish
		g.events.forget(u)
	}
	g.log.Debug("node set installed", "network", name, "nodes", len(next), "removed", len(gone))
	return errors.Join(errs...)
}

// node returns the node for rn: prev (the node in its place now, or nil)
// when its settings are unchanged, else a new node that inherits prev's
// live state. When the settings cannot be read, prev stays.
func (g *Gateway) node(n *network, rn registry.Node, tier upstream.Tier, prev *upstream.Node) (*upstream.Node, error) {
	cn := n.configNode(rn)
	spec, err := NodeSpec(n.cfg, cn, tier, g.attest)
	if err != nil {
		return prev, err
	}
	spec.Source = rn.URI
	spec = g.transport(n.cfg, spec, cn)
	if prev != nil && sameSpec(prev.Spec, spec) {
		return prev, nil
	}
	u := upstream.New(spec)
	if prev != nil {
		u.Inherit(prev)
	}
	return u, nil
}

// sameSpec reports whether two specs describe the same node the same way.
func sameSpec(a, b upstream.Spec) bool {
	return a.Name == b.Name && a.Network == b.Network && a.Tier == b.Tier && a.URL == b.URL && a.Source == b.Source &&
		a.WSURL == b.WSURL && a.PrometheusURL == b.PrometheusURL && max(a.Weight, 1) == max(b.Weight, 1) &&
		a.MaxConcurrency == b.MaxConcurrency && a.Gzip == b.Gzip && a.Timeout == b.Timeout &&
		a.State == b.State && a.StateWindow == b.StateWindow && a.Methods.Equal(b.Methods) && a.RateLimit == b.RateLimit &&
		(a.Transport == nil) == (b.Transport == nil) && (a.WSTransport == nil) == (b.WSTransport == nil) && maps.EqualFunc(a.Headers, b.Headers, slices.Equal)
}

// configNode returns the configured node with that URI (with its headers,
// weight, ...), or a node with the network's defaults.
func (n *network) configNode(rn registry.Node) config.Node {
	for _, list := range [][]config.Node{n.cfg.LocalNodes, n.cfg.MonitoringNodes, n.cfg.FallbackNodes} {
		for _, nd := range list {
			if nd.RPCEndpoint == rn.URI {
				return nd
			}
		}
	}
	return config.Node{RPCEndpoint: rn.URI, Name: rn.Name, Weight: 1, MaxConcurrency: n.cfg.MaxConcurrency,
		RateLimit: config.NodeRateLimit(rn.RateLimit)}
}

// Admit implements registry.Applier: a node joins only when its URL is valid
// and it answers eth_chainId with the network's chain id.
func (g *Gateway) Admit(ctx context.Context, rn registry.Node) error {
	n := g.network(rn.Network)
	if n == nil {
		return fmt.Errorf("unknown network %q", rn.Network)
	}
	probe := n.configNode(rn)
	if err := probe.Check(); err != nil {
		return err
	}
	// The node is asked the way it will be served: an attested node is
	// admitted only when its certificate passes.
	spec, err := NodeSpec(n.cfg, probe, upstream.Local, g.attest)
	if err != nil {
		return err
	}
	spec.Timeout = 5 * time.Second
	u := upstream.New(spec)
	defer u.Close()
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	id, err := health.ChainID(ctx, u)
	if err != nil {
		return fmt.Errorf("the node did not answer eth_chainId: %w", err)
	}
	if want := n.monitor.ExpectedChainID(); want != 0 && id != want {
		return fmt.Errorf("the node is on chain %d, network %q is on chain %d", id, rn.Network, want)
	}
	return nil
}

// startAdmin serves the admin API when admin.listen is set.
func (g *Gateway) startAdmin() error {
	if g.cfg.Admin.AdminListen == "" {
		return nil
	}
	ln, err := net.Listen("tcp", g.cfg.Admin.AdminListen)
	if err != nil {
		return fmt.Errorf("listening for the admin API (admin.listen): %w", err)
	}
	g.adminLn = ln
	g.adminSrv = g.newServer(g.registry.Handler(g.adminRoutes()...), g.tls.admin)
	g.serve(g.adminSrv, ln)
	return nil
}

// AdminURL is the admin API's base URL ("" when off).
func (g *Gateway) AdminURL() string { return urlOf(g.adminLn, g.tls.admin) }
