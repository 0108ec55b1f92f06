package gateway

import "github.com/evmgate/evmgate/internal/sharedlimit"

// buildLimits connects to Redis, when configured, and sets up the leasing
// of the nodes' shared rate limits (rate_limit.shared) over it.
func (g *Gateway) buildLimits() error {
	if err := g.buildRedis(); err != nil {
		return err
	}
	if g.redis == nil {
		return nil
	}
	l, err := sharedlimit.New(g.redis, g.cfg.Admin.RedisPrefix, g.limitPools, g.log, g.reg)
	if err != nil {
		return err
	}
	g.limits = l
	return nil
}

// limitPools returns the pools of the networks in force, for the leaser.
func (g *Gateway) limitPools() []sharedlimit.Pool {
	nets := g.networks()
	out := make([]sharedlimit.Pool, 0, len(nets))
	for _, n := range nets {
		out = append(out, n.pool)
	}
	return out
}
