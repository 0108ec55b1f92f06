package breaker

import (
	gwmetrics "github.com/evmgate/evmgate/internal/metrics"
	"github.com/evmgate/evmgate/internal/upstream"
	"github.com/prometheus/client_golang/prometheus"
)

// Metrics counts breaker transitions. The state gauge per node comes from
// the gateway's scrape-time snapshot (evmgate_node_breaker_state).
type Metrics struct {
	transitions *prometheus.CounterVec
}

// NewMetrics registers the breaker metrics on reg; a second call on the same
// registry shares the first one's collectors.
func NewMetrics(reg prometheus.Registerer) (*Metrics, error) {
	m := &Metrics{transitions: prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "evmgate_breaker_transitions_total",
		Help: "Circuit breaker state changes per node, by the state entered (open, half_open, closed).",
	}, []string{"network", "rpc_endpoint", "to"})}
	var err error
	m.transitions = gwmetrics.Register(reg, m.transitions, &err)
	return m, err
}

func (m *Metrics) transition(network, node string, to upstream.Gate) {
	if m == nil {
		return
	}
	m.transitions.WithLabelValues(network, node, to.String()).Inc()
}
