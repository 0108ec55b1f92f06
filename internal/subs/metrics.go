package subs

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are the subscription collectors (prefix evmgate_ws_). Labels take
// network names, kinds and fixed reasons only.
type Metrics struct {
	// Feeds counts open upstream subscriptions.
	Feeds *prometheus.GaugeVec
	// Subscribers counts client subscriptions.
	Subscribers *prometheus.GaugeVec
	// Notifications counts notifications handed to client subscriptions.
	Notifications *prometheus.CounterVec
	// Upstream counts notifications received from nodes.
	Upstream *prometheus.CounterVec
	// Moves counts upstream subscriptions moved to another node, by reason.
	Moves *prometheus.CounterVec
	// Backfilled counts headers and logs fetched to fill a gap.
	Backfilled *prometheus.CounterVec
	// Removed counts logs re-sent with removed: true by the gateway.
	Removed *prometheus.CounterVec
	// Unlinked counts gaps too long to fill (websocket.max_gap_blocks).
	Unlinked *prometheus.CounterVec
}

// NewMetrics registers the collectors on reg.
func NewMetrics(reg prometheus.Registerer) (*Metrics, error) {
	nk := []string{"network", "kind"}
	m := &Metrics{
		Feeds: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "evmgate_ws_upstream_subscriptions",
			Help: "Open upstream subscriptions, each shared by every client subscription with the same kind and filter."}, nk),
		Subscribers: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "evmgate_ws_subscriptions",
			Help: "Client subscriptions."}, nk),
		Notifications: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "evmgate_ws_notifications_total",
			Help: "Notifications handed to client subscriptions."}, nk),
		Upstream: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "evmgate_ws_upstream_notifications_total",
			Help: "Notifications received from nodes (or produced by polling)."}, nk),
		Moves: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "evmgate_ws_resubscribes_total",
			Help: "Upstream subscriptions moved to another node, by reason."}, []string{"network", "kind", "reason"}),
		Backfilled: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "evmgate_ws_backfilled_total",
			Help: "Headers and logs fetched from a node to fill a gap after a move or a missed notification."}, nk),
		Removed: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "evmgate_ws_removed_logs_total",
			Help: "Logs of reorged-out blocks re-sent with removed: true by the gateway."}, nk),
		Unlinked: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "evmgate_ws_unfilled_gaps_total",
			Help: "Header gaps longer than websocket.max_gap_blocks, delivered without their oldest headers."}, nk),
	}
	for _, c := range []prometheus.Collector{m.Feeds, m.Subscribers, m.Notifications, m.Upstream, m.Moves, m.Backfilled, m.Removed, m.Unlinked} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("registering subscription metrics: %w", err)
		}
	}
	return m, nil
}
