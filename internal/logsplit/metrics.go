package logsplit

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are the splitters' collectors, shared by every network.
type Metrics struct {
	events *prometheus.CounterVec
}

// NewMetrics registers the collectors on reg (nil: none).
func NewMetrics(reg prometheus.Registerer) (*Metrics, error) {
	m := &Metrics{events: prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "evmgate_getlogs_total",
		Help: "eth_getLogs handling by event: split (a call cut into chunks), chunk (a range asked of a node), bisect (a chunk cut in two after a too-large answer), rejected (over max_logs_block_range).",
	}, []string{"network", "event"})}
	if reg != nil {
		if err := reg.Register(m.events); err != nil {
			return nil, fmt.Errorf("getlogs metrics: %w", err)
		}
	}
	return m, nil
}

// The events counted.
const (
	evSplit = iota
	evChunk
	evBisect
	evRejected
	numEvents
)

var eventNames = [numEvents]string{"split", "chunk", "bisect", "rejected"}

// netMetrics are one network's counters, resolved once.
type netMetrics struct{ c [numEvents]prometheus.Counter }

func (m *Metrics) forNetwork(network string) *netMetrics {
	if m == nil {
		return nil
	}
	var nm netMetrics
	for i, name := range eventNames {
		nm.c[i] = m.events.WithLabelValues(network, name)
	}
	return &nm
}

// count adds one to event e; a nil m counts nothing.
func (m *netMetrics) count(e int) {
	if m != nil {
		m.c[e].Inc()
	}
}
