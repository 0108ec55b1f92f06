package ws

import (
	"fmt"

	"github.com/evmgate/evmgate/internal/upstream"
	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the WebSocket collectors (prefix evmgate_ws_). Labels take
// network and node names from the configuration and fixed reasons only.
type metrics struct {
	connections  *prometheus.GaugeVec   // network
	rejected     *prometheus.CounterVec // reason
	disconnects  *prometheus.CounterVec // network, reason
	messages     *prometheus.CounterVec // network: client messages (calls and batches)
	written      *prometheus.CounterVec // network: messages written to clients
	upstream     *prometheus.GaugeVec   // network, node: open node connections
	upstreamDial *prometheus.CounterVec // network, node, outcome
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		connections: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "evmgate_ws_connections",
			Help: "Open client WebSocket connections."}, []string{"network"}),
		rejected: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "evmgate_ws_rejected_total",
			Help: "WebSocket upgrades refused, by reason."}, []string{"reason"}),
		disconnects: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "evmgate_ws_disconnects_total",
			Help: "Client WebSocket connections closed, by reason (client, slow_consumer, message_too_big, ping_timeout, write_failed, shutdown, network_removed, access_refused)."},
			[]string{"network", "reason"}),
		messages: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "evmgate_ws_messages_total",
			Help: "JSON-RPC messages (calls and batches) received from clients."}, []string{"network"}),
		written: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "evmgate_ws_written_total",
			Help: "Messages (answers and notifications) written to clients."}, []string{"network"}),
		upstream: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "evmgate_ws_upstream_connections",
			Help: "Open WebSocket connections to nodes (one per node, shared)."}, []string{"network", "node"}),
		upstreamDial: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "evmgate_ws_upstream_dials_total",
			Help: "WebSocket dials to nodes, by outcome."}, []string{"network", "node", "outcome"}),
	}
	for _, c := range []prometheus.Collector{m.connections, m.rejected, m.disconnects, m.messages, m.written, m.upstream, m.upstreamDial} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("registering websocket metrics: %w", err)
		}
	}
	return m, nil
}

func (m *metrics) dial(s upstream.Spec, outcome string) {
	if m != nil {
		m.upstreamDial.WithLabelValues(s.Network, s.Name, outcome).Inc()
	}
}

func (m *metrics) upstreamUp(s upstream.Spec, d float64) {
	if m != nil {
		m.upstream.WithLabelValues(s.Network, s.Name).Add(d)
	}
}
