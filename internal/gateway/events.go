package gateway

import (
	"context"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/evmgate/evmgate/internal/metrics"
	"github.com/evmgate/evmgate/internal/upstream"
)

// events logs and counts what health monitors see. Repeated probe failures
// of one node are logged at most once per log_rate_limit.
type events struct {
	log     *slog.Logger
	metrics *metrics.Metrics
	every   atomic.Int64 // log_rate_limit, ns; a reload changes it

	queue   func(network string) *queued // the network's queue, nil when unknown
	changes *changes                     // wakes the status page

	mu       sync.Mutex // mu protects last and lastCool
	last     map[*upstream.Node]time.Time
	lastCool map[*upstream.Node]time.Time
}

func newEvents(log *slog.Logger, m *metrics.Metrics, every time.Duration, queue func(string) *queued) *events {
	e := &events{log: log, metrics: m, last: map[*upstream.Node]time.Time{}, lastCool: map[*upstream.Node]time.Time{}, queue: queue, changes: newChanges()}
	e.every.Store(int64(every))
	return e
}

// forget drops what is kept about a node that left its network.
func (e *events) forget(n *upstream.Node) {
	e.mu.Lock()
	delete(e.last, n)
	delete(e.lastCool, n)
	e.mu.Unlock()
}

func (e *events) ProbeFailed(n *upstream.Node, err error) {
	e.metrics.NodeErrors.WithLabelValues(n.Network, n.Name, "probe").Inc()
	if e.due(e.last, n) {
		e.log.Warn("node probe failed", "network", n.Network, "node", n.Name, "err", err)
	}
}

// CoolingDown logs (at most once per log_rate_limit per node) and counts a
// node that starts to cool down after a rate limit answer, this replica's
// own or one another replica told (a shared rate limit).
func (e *events) CoolingDown(n *upstream.Node, d time.Duration, told bool) {
	source := "answer"
	if told {
		source = "replica"
	}
	e.metrics.NodeCoolDowns.WithLabelValues(n.Network, n.Name, source).Inc()
	e.changes.notify()
	if e.due(e.lastCool, n) {
		e.log.Warn("node rate limited: passed over while it cools down", "network", n.Network, "node", n.Name, "for", d, "source", source)
	}
}

// due reports whether a line about n is due, log_rate_limit after the last
// one of its kind (last), and notes it.
func (e *events) due(last map[*upstream.Node]time.Time, n *upstream.Node) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	now := time.Now()
	if now.Sub(last[n]) < time.Duration(e.every.Load()) {
		return false
	}
	last[n] = now
	return true
}

func (e *events) StateChanged(n *upstream.Node, from, to upstream.State, reason string) {
	e.changes.notify()
	if q := e.queue(n.Network); q != nil {
		q.s.Kick() // calls waiting for a worker may fit on a node that came back
	}
	level := slog.LevelInfo
	if to == upstream.Down || to == upstream.WrongChain || to == upstream.Unattested {
		level = slog.LevelWarn
	}
	e.log.Log(context.Background(), level, "node state changed", "network", n.Network, "node", n.Name, "tier", n.Tier.String(),
		"from", from.String(), "to", to.String(), "reason", reason)
}
