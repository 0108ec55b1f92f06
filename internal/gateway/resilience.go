package gateway

import (
	"github.com/evmgate/evmgate/internal/breaker"
	"github.com/evmgate/evmgate/internal/config"
	"github.com/evmgate/evmgate/internal/health"
	"github.com/evmgate/evmgate/internal/hedge"
	"github.com/evmgate/evmgate/internal/upstream"
)

// hedging builds a network's hedging policy; nil when hedging is off.
func (g *Gateway) hedging(n config.Network) (*hedge.Policy, error) {
	if !n.Hedge.Enabled {
		return nil, nil
	}
	m, err := hedge.NewMetrics(g.reg)
	if err != nil {
		return nil, err
	}
	return hedge.New(n.Name, hedge.Settings{
		Quantile: n.Hedge.Quantile, MinDelay: n.Hedge.MinDelay.D(), MaxDelay: n.Hedge.MaxDelay.D(),
	}, m), nil
}

// breakers builds a network's circuit breakers; nil when they are off.
func (g *Gateway) breakers(n config.Network) (*breaker.Set, error) {
	if !n.CircuitBreaker.On() {
		return nil, nil
	}
	m, err := breaker.NewMetrics(g.reg)
	if err != nil {
		return nil, err
	}
	cb := n.CircuitBreaker
	return breaker.New(n.Name, breaker.Settings{
		Failures: uint32(cb.Failures), Ratio: cb.FailureRatio, Window: cb.Window.D(), Cooldown: cb.Cooldown.D(),
	}, g.log.With("network", n.Name), m), nil
}

// outcomes passes a try's outcome to health, then to the node's breaker,
// which reports it to the node even when breakers are off (a nil Set): a
// node counts its calls out, and a breaker turned on by a reload must
// find that count right.
type outcomes struct {
	monitor  *health.Monitor
	breakers *breaker.Set
}

func (o outcomes) Observe(n *upstream.Node, err error) {
	o.monitor.Observe(n, err)
	o.breakers.Observe(n, err)
}

// observer is what the JSON-RPC handler reports a network's outcomes to.
func (n *network) observer() interface {
	Observe(*upstream.Node, error)
} {
	return outcomes{monitor: n.monitor, breakers: n.breakers}
}

// breakerState is nd's breaker state for status and metrics, "" when the
// network's breakers are off.
func (n *network) breakerState(nd *upstream.Node) string {
	if n.breakers == nil {
		return ""
	}
	return nd.Gate().String()
}
