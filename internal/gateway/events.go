package gateway

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/evmgate/evmgate/internal/metrics"
	"github.com/evmgate/evmgate/internal/upstream"
)

// events logs and counts what health monitors see. Repeated probe failures
// of one node are logged at most once per log_rate_limit.
type events struct {
	log     *slog.Logger
	metrics *metrics.Metrics
	every   time.Duration

	queues  map[string]*queued // set while building, read-only after
	changes *changes           // wakes the status page

	mu   sync.Mutex // mu protects last
	last map[*upstream.Node]time.Time
}

func newEvents(log *slog.Logger, m *metrics.Metrics, every time.Duration) *events {
	return &events{log: log, metrics: m, every: every, last: map[*upstream.Node]time.Time{}, queues: map[string]*queued{},
		changes: newChanges()}
}

func (e *events) ProbeFailed(n *upstream.Node, err error) {
	e.metrics.NodeErrors.WithLabelValues(n.Network, n.Name, "probe").Inc()
	e.mu.Lock()
	now := time.Now()
	quiet := now.Sub(e.last[n]) < e.every
	if !quiet {
		e.last[n] = now
	}
	e.mu.Unlock()
	if !quiet {
		e.log.Warn("node probe failed", "network", n.Network, "node", n.Name, "err", err)
	}
}

func (e *events) StateChanged(n *upstream.Node, from, to upstream.State, reason string) {
	e.changes.notify()
	if q := e.queues[n.Network]; q != nil {
		q.s.Kick() // calls waiting for a worker may fit on a node that came back
	}
	level := slog.LevelInfo
	if to == upstream.Down || to == upstream.WrongChain {
		level = slog.LevelWarn
	}
	e.log.Log(context.Background(), level, "node state changed", "network", n.Network, "node", n.Name, "tier", n.Tier.String(),
		"from", from.String(), "to", to.String(), "reason", reason)
}
