package registry

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/evmgate/evmgate/internal/nodeurl"
)

// Catalog is what the configuration file tells the registry: the networks,
// in configuration order, their configured nodes (the seed) and the default
// network of the /nodes API. Prepare builds one; Reload installs it.
type Catalog struct {
	networks []string
	seed     map[string][]Node
	def      string
}

func (r *Registry) catalog() *Catalog { return r.cat.Load() }

// Prepare checks networks and their configured nodes (seed, by network, in
// configuration order) and returns them as a Catalog for New or Reload.
// admin.default_network must name one of networks.
func (r *Registry) Prepare(networks []string, seed map[string][]Node) (*Catalog, error) {
	c := &Catalog{networks: slices.Clone(networks), seed: map[string][]Node{}}
	if len(c.networks) == 0 {
		return nil, errors.New("building node registry: no networks")
	}
	c.def = cmp.Or(r.cfg.DefaultNetwork, c.networks[0])
	if !slices.Contains(c.networks, c.def) {
		return nil, fmt.Errorf("admin.default_network: %w %q (known: %s)", ErrUnknownNetwork, c.def, strings.Join(c.networks, ", "))
	}
	for name, nodes := range seed {
		if !slices.Contains(c.networks, name) {
			return nil, fmt.Errorf("building node registry: configured nodes for %w %q", ErrUnknownNetwork, name)
		}
		for i, n := range nodes {
			if slices.ContainsFunc(nodes[:i], func(o Node) bool { return o.URI == n.URI }) {
				return nil, fmt.Errorf("building node registry: network %q lists node %s twice", name, nodeurl.Redact(n.URI))
			}
			n.Network, n.Source = name, SourceConfig
			if n.Tier == "" {
				n.Tier = TierLocal
			}
			c.seed[name] = append(c.seed[name], n)
		}
	}
	return c, nil
}

// Reload installs a new configuration's networks and configured nodes, and
// calls Apply for every network, whether its set changed or not (the
// settings of its nodes may have). The runtime changes stay as they are:
// a node added through the admin API is kept, a configured node removed
// through it stays removed, and a node added at run time that the new file
// lists is served once, as configured. The changes of a network that the
// reload removes are kept in the store, and come back with the network.
// With Redis, the store is read again first, for the networks the reload
// added; when Redis cannot be reached the last known changes are applied.
// The gateway's side (Networks, Apply) must already know the new networks.
func (r *Registry) Reload(ctx context.Context, c *Catalog) {
	r.syncMu.Lock()
	old := r.cat.Swap(c)
	for _, name := range old.networks {
		if !slices.Contains(c.networks, name) {
			r.metrics.forget(name)
			delete(r.applyErr, name)
			delete(r.applied, name)
		}
	}
	r.reapply = true
	r.syncMu.Unlock()
	sctx, cancel := context.WithTimeout(ctx, startTimeout)
	defer cancel()
	if err := r.sync(sctx); err != nil {
		r.log.Warn("reload: the node store could not be read; applying the last known runtime changes", "err", err)
		r.syncMu.Lock()
		r.install(r.state())
		r.syncMu.Unlock()
	}
}
