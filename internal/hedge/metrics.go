package hedge

import (
	gwmetrics "github.com/evmgate/evmgate/internal/metrics"
	"github.com/prometheus/client_golang/prometheus"
)

// Outcome is what became of a hedge.
type Outcome uint8

const (
	// Won: the copy's answer was served.
	Won Outcome = iota
	// Lost: the first try's answer was served; the copy was cancelled.
	Lost
	// Failed: the copy's try failed (its node is judged on it).
	Failed
	// NoNode: the delay passed but no other node had a free slot (or calls
	// were waiting for one).
	NoNode
	numOutcomes
)

var outcomeNames = [numOutcomes]string{"won", "lost", "failed", "no_node"}

func (o Outcome) String() string { return outcomeNames[o] }

// Metrics counts hedges.
type Metrics struct {
	hedges *prometheus.CounterVec
}

// NewMetrics registers the hedging metrics on reg; a second call on the
// same registry shares the first one's collectors.
func NewMetrics(reg prometheus.Registerer) (*Metrics, error) {
	m := &Metrics{hedges: prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "evmgate_hedges_total",
		Help: "Second copies of slow reads, by outcome: won (its answer served), lost (the first try's served), failed, no_node (no free node for a copy).",
	}, []string{"network", "outcome"})}
	var err error
	m.hedges = gwmetrics.Register(reg, m.hedges, &err)
	return m, err
}

func (m *Metrics) count(network string, o Outcome) {
	if m == nil {
		return
	}
	m.hedges.WithLabelValues(network, o.String()).Inc()
}
