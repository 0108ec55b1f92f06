package gateway

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/evmgate/evmgate/internal/balancer"
	"github.com/evmgate/evmgate/internal/breaker"
	"github.com/evmgate/evmgate/internal/config"
	"github.com/evmgate/evmgate/internal/health"
	"github.com/evmgate/evmgate/internal/registry"
	"github.com/evmgate/evmgate/internal/restapi"
)

// Config returns the configuration in force: the one the gateway started
// with, or the last one Reload applied.
func (g *Gateway) Config() *config.Config { return g.live.Load() }

// Reload applies next, a validated configuration, to the running gateway
// without dropping a call or a WebSocket subscription. The new runtime is
// built beside the old one and swapped in:
//
//   - a network that stays keeps its node pool and its queue: calls waiting
//     in it keep their place, and its subscriptions their upstream; its
//     selection rules, scheduler bounds, retries and timeouts change for the
//     next call, and it gets a new health monitor when its probe settings
//     changed;
//   - its nodes are applied again through the registry: a node that stays
//     (same tier and URL) keeps its live state, one whose settings changed
//     (weight, limits, headers) is replaced by one that inherits that state,
//     and the runtime changes of the admin API stay;
//   - a new network is probed once before it is served;
//   - a removed network answers 404 to new calls at once, while its calls in
//     flight finish and its WebSocket clients are sent away with a "going
//     away" close frame.
//   - the REST routes are served for the networks that set rest_api, and
//     their nodes' WebSocket carriers follow;
//   - client access follows the access section; a change that opens the
//     gateway or makes it require a key is logged at WARN.
//
// Settings only a restart can change (config.Reloadable) keep their running
// values; Reload returns their key paths. When anything of next cannot be
// built, Reload returns the error and nothing changes.
func (g *Gateway) Reload(ctx context.Context, next *config.Config) ([]string, error) {
	g.reloadMu.Lock()
	defer g.reloadMu.Unlock()
	if g.draining.Load() {
		return nil, errors.New("the gateway is shutting down")
	}
	cfg, restart := config.Reloadable(g.Config(), next)
	if len(g.networks()) > 0 {
		p, err := g.plan(cfg)
		if err != nil {
			return restart, err
		}
		if g.access != nil {
			wasOpen := g.access.Open()
			if err := g.access.SetConfig(cfg.Access); err != nil {
				return restart, err
			}
			g.logAccessChange(wasOpen, cfg)
		}
		g.rest.Enable(restapi.Networks(cfg)) // before the networks serve: a route is never read as a path key
		g.install(ctx, p)
	}
	g.handler.SetOptions(proxyOptions(cfg))
	g.events.every.Store(int64(cfg.LogRateLimit.D()))
	g.live.Store(cfg)
	return restart, nil
}

// plan is a reload built and checked, not yet installed.
type plan struct {
	cfg     *config.Config
	nets    []*network // the networks after the reload, in configuration order
	fresh   []*network // networks the reload adds
	kept    []keptNetwork
	removed []*network
	catalog *registry.Catalog
}

// keptNetwork is a network that stays, with what changes in it.
type keptNetwork struct {
	n       *network
	rules   *balancer.Rules // nil: unchanged
	monitor *health.Monitor // the monitor it replaces, nil when kept
	// breakers are the circuit breakers it replaces, nil when kept.
	breakers *breaker.Set
}

// plan builds everything next needs and checks it, changing nothing.
func (g *Gateway) plan(cfg *config.Config) (*plan, error) {
	p := &plan{cfg: cfg}
	old := map[string]*network{}
	for _, n := range g.networks() {
		old[n.cfg.Name] = n
	}
	var errs []error
	for _, nc := range cfg.Networks {
		o := old[nc.Name]
		if o == nil {
			n, err := buildNetwork(nc, cfg.Scheduler, g.events, g)
			if err != nil {
				errs = append(errs, err)
				continue
			}
			p.fresh = append(p.fresh, n)
			p.nets = append(p.nets, n)
			continue
		}
		delete(old, nc.Name)
		k, err := g.keep(o, nc, cfg.Scheduler)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		p.kept = append(p.kept, k)
		p.nets = append(p.nets, k.n)
	}
	for _, n := range g.networks() {
		if old[n.cfg.Name] != nil {
			p.removed = append(p.removed, n)
		}
	}
	if err := errors.Join(errs...); err != nil {
		p.discard()
		return nil, err
	}
	names := make([]string, len(p.nets))
	for i, n := range p.nets {
		names[i] = n.cfg.Name
	}
	cat, err := g.registry.Prepare(names, seed(cfg))
	if err != nil {
		p.discard()
		return nil, err
	}
	p.catalog = cat
	return p, nil
}

// keep builds the runtime of network o under its new configuration nc: the
// same pool and queue, new settings.
func (g *Gateway) keep(o *network, nc config.Network, sc config.Scheduler) (keptNetwork, error) {
	if err := schedConfig(sc).Validate(); err != nil {
		return keptNetwork{}, fmt.Errorf("scheduler: %w", err)
	}
	ct, err := consistentTracker(nc, o)
	if err != nil {
		return keptNetwork{}, fmt.Errorf("networks %q: %w", nc.Name, err)
	}
	k := keptNetwork{n: &network{cfg: nc, pool: o.pool, monitor: o.monitor, queue: o.queue, hedge: o.hedge, breakers: o.breakers, consistent: ct}}
	if o.cfg.Hedge != nc.Hedge {
		if k.n.hedge, err = g.hedging(nc); err != nil {
			return keptNetwork{}, err
		}
	}
	if !sameBreakers(o.cfg.CircuitBreaker, nc.CircuitBreaker) {
		if k.n.breakers, err = g.breakers(nc); err != nil {
			return keptNetwork{}, err
		}
		k.breakers = o.breakers
	}
	if ruleSettings(o.cfg) != ruleSettings(nc) {
		r, err := rules(nc)
		if err != nil {
			return keptNetwork{}, fmt.Errorf("networks %q: %w", nc.Name, err)
		}
		k.rules = &r
	}
	if healthSettings(o.cfg) != healthSettings(nc) {
		k.n.monitor = health.New(healthSettings(nc), o.pool, g.log.With("network", nc.Name), g.events)
		k.monitor = o.monitor
	}
	k.n.cache = g.networkCache(nc, k.n.monitor) // the same store: kept answers stay, found only on their chain
	k.n.logs = g.splitter(nc, k.n.monitor)
	return k, nil
}

func sameBreakers(a, b config.CircuitBreaker) bool {
	return a.On() == b.On() && a.Failures == b.Failures && a.FailureRatio == b.FailureRatio &&
		a.Window == b.Window && a.Cooldown == b.Cooldown
}

// ruleSettings are the keys of a network that its selection rules read.
func ruleSettings(n config.Network) string {
	return fmt.Sprint(n.NetworkBlockDiff, n.FallbackBlockDiff, n.SwitchToFallbackEnabled, n.SwitchToFallbackBlockThreshold,
		n.Strategy, n.LoadBalancePriority)
}

// discard releases what a refused plan built.
func (p *plan) discard() {
	for _, n := range p.fresh {
		n.dispose()
	}
	for _, k := range p.kept {
		if k.monitor != nil {
			k.n.monitor.Close()
		}
		if k.breakers != nil {
			k.n.breakers.Close()
		}
	}
}

// dispose closes a network that never served.
func (n *network) dispose() {
	n.monitor.Close()
	n.breakers.Close()
	n.queue.s.Close()
	for _, nd := range n.pool.Nodes() {
		nd.Close()
	}
}

// install swaps the planned runtime in. New networks are probed first, so
// they serve from their first call; then the networks are swapped, the
// registry applies every node set, new monitors take over and removed
// networks retire.
func (g *Gateway) install(ctx context.Context, p *plan) {
	each(p.fresh, func(n *network) { n.monitor.Start(ctx) })
	for _, k := range p.kept {
		if err := k.n.queue.reconfigure(p.cfg.Scheduler); err != nil {
			g.log.Error("reload: keeping the scheduler settings", "network", k.n.cfg.Name, "err", err) // checked in plan
		}
		if k.rules != nil {
			k.n.pool.SetRules(*k.rules)
		}
	}
	nets := slices.Clone(p.nets)
	g.nets.Store(&nets)
	g.handler.SetNetworks(proxyNetworks(nets))
	for _, n := range p.fresh {
		g.log.Info("network added", "network", n.cfg.Name, "nodes", len(n.pool.Nodes()))
	}
	g.registry.Reload(ctx, p.catalog)
	var swapped []*network
	for _, k := range p.kept {
		if k.monitor != nil {
			swapped = append(swapped, k.n)
		}
	}
	each(swapped, func(n *network) { n.monitor.Start(ctx) })
	for _, k := range p.kept {
		if k.monitor != nil {
			k.monitor.Close()
		}
		if k.breakers != nil {
			k.breakers.Close() // its nodes' gates close; the new breakers judge from here
		}
	}
	for _, n := range p.removed {
		// Its calls in flight started under the old budgets.
		g.retire.start(g, n, max(g.Config().LongestBudget(), p.cfg.LongestBudget())+time.Second)
	}
}

// each runs fn for every network at once and waits.
func each(nets []*network, fn func(n *network)) {
	var wg sync.WaitGroup
	for _, n := range nets {
		wg.Go(func() { fn(n) })
	}
	wg.Wait()
}
