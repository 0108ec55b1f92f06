package gateway

import (
	"fmt"

	"github.com/evmgate/evmgate/internal/cache"
	"github.com/evmgate/evmgate/internal/config"
	"github.com/evmgate/evmgate/internal/health"
)

// buildCache makes the response cache shared by every network, unless
// cache.enabled is false.
func (g *Gateway) buildCache() error {
	if !*g.cfg.Cache.Enabled {
		return nil
	}
	s, err := cache.New(g.cfg.Cache.Config(), g.reg)
	if err != nil {
		return fmt.Errorf("response cache: %w", err)
	}
	g.cache = s
	return nil
}

// networkCache is one network's view of the cache (nil when it is off for
// the network), keyed by the chain the network's probes find (or its
// chain_id) and judging finality by them.
func (g *Gateway) networkCache(nc config.Network, mon *health.Monitor) *cache.Network {
	if g.cache == nil || nc.Cache != nil && !*nc.Cache {
		return nil
	}
	return g.cache.Network(nc.Name, mon)
}

var _ cache.Chain = (*health.Monitor)(nil)

// Finalized returns the network's finalized block as its probes see it.
func (g *Gateway) Finalized(network string) (uint64, bool) {
	for _, n := range g.networks() {
		if n.cfg.Name == network {
			return n.monitor.Finalized()
		}
	}
	return 0, false
}
