package registry

import (
	"errors"

	gwmetrics "github.com/evmgate/evmgate/internal/metrics"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the registry's collectors. Labels take only configured
// network names and fixed words.
type metrics struct {
	nodes       *prometheus.GaugeVec   // network, source
	changes     *prometheus.CounterVec // op, result
	syncs       *prometheus.CounterVec // result
	storeUp     prometheus.Gauge
	applyErrors prometheus.Counter
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		nodes: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "evmgate_registry_nodes",
			Help: "Nodes in each network's runtime set, by source (config or admin).",
		}, []string{"network", "source"}),
		changes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "evmgate_registry_changes_total",
			Help: "Admin node changes by operation (add, remove) and result.",
		}, []string{"op", "result"}),
		syncs: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "evmgate_registry_syncs_total",
			Help: "Reads of the node registry store by result (ok, error).",
		}, []string{"result"}),
		storeUp: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "evmgate_registry_store_up",
			Help: "1 when the last read of the node registry store (Redis or state file) succeeded.",
		}),
		applyErrors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "evmgate_registry_apply_errors_total",
			Help: "Node sets the gateway could not fully apply.",
		}),
	}
	var err error
	m.nodes = gwmetrics.Register(reg, m.nodes, &err)
	m.changes = gwmetrics.Register(reg, m.changes, &err)
	m.syncs = gwmetrics.Register(reg, m.syncs, &err)
	m.storeUp = gwmetrics.Register(reg, m.storeUp, &err)
	m.applyErrors = gwmetrics.Register(reg, m.applyErrors, &err)
	return m, err
}

func (m *metrics) setNodes(network string, nodes []Node) {
	var config, admin float64
	for _, n := range nodes {
		if n.Source == SourceConfig {
			config++
		} else {
			admin++
		}
	}
	m.nodes.WithLabelValues(network, SourceConfig).Set(config)
	m.nodes.WithLabelValues(network, SourceAdmin).Set(admin)
}

// forget drops the series of a network that a reload removed.
func (m *metrics) forget(network string) {
	m.nodes.DeleteLabelValues(network, SourceConfig)
	m.nodes.DeleteLabelValues(network, SourceAdmin)
}

func (m *metrics) setUp(up bool) {
	v := 0.0
	if up {
		v = 1
	}
	m.storeUp.Set(v)
}

// change counts one admin change with the result its error names.
func (m *metrics) change(op string, err error) {
	m.changes.WithLabelValues(op, result(err)).Inc()
}

func result(err error) string {
	for _, c := range []struct {
		err  error
		name string
	}{
		{ErrUnknownNetwork, "unknown_network"}, {ErrInvalid, "invalid"}, {ErrRejected, "rejected"},
		{ErrDuplicate, "duplicate"}, {ErrNotFound, "not_found"}, {ErrUnavailable, "unavailable"},
		{ErrNotApplied, "not_applied"},
	} {
		if errors.Is(err, c.err) {
			return c.name
		}
	}
	if err != nil {
		return "error"
	}
	return "ok"
}
