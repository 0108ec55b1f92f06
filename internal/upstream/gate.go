package upstream

import (
	"context"
	"time"
)

// Gate is a node's circuit-breaker state as selection sees it. The breaker
// package decides it from call outcomes; the node only holds it, so that
// TryAcquire and the balancer's view read one atomic.
type Gate uint32

const (
	// GateClosed: calls flow.
	GateClosed Gate = iota
	// GateOpen: the node gets no calls until its cool-down ends.
	GateOpen
	// GateHalfOpen: the cool-down ended; the next call is the trial.
	GateHalfOpen
	// GateTrial: the trial call is in flight; no other call is placed.
	GateTrial
)

var gateNames = [...]string{"closed", "open", "half_open", "half_open"}

func (g Gate) String() string {
	if int(g) < len(gateNames) {
		return gateNames[g]
	}
	return "invalid"
}

// Gate returns the node's breaker state.
func (n *Node) Gate() Gate { return Gate(n.gate.Load()) }

// SetGate sets the node's breaker state; a change into or out of GateOpen
// rebuilds the network's view.
func (n *Node) SetGate(g Gate) {
	old := Gate(n.gate.Swap(uint32(g)))
	if (old == GateOpen) != (g == GateOpen) {
		n.changed()
	}
}

// EndTrial puts a half-open node whose trial ended without a verdict (the
// client went away, the node was only behind) back to waiting for a trial.
func (n *Node) EndTrial() { n.gate.CompareAndSwap(uint32(GateTrial), uint32(GateHalfOpen)) }

// passGate reports whether the breaker lets a call through now, taking the
// trial when the node is half-open.
func (n *Node) passGate() bool {
	switch Gate(n.gate.Load()) {
	case GateClosed:
		return true
	case GateHalfOpen:
		return n.gate.CompareAndSwap(uint32(GateHalfOpen), uint32(GateTrial))
	}
	return false
}

// ObserveAbandoned counts a try given up after took (a hedged try that
// lost the race) in the node's answer time: the node was at least that
// slow, and a cancelled try must not make it look faster than it is.
func (n *Node) ObserveAbandoned(took time.Duration) { n.answers.Observe(Now(), took) }

// interruptCtx marks a try that may be abandoned while it waits on the
// node (a hedged try): the pooled client then watches its cancellation.
type interruptCtx struct{ context.Context }

// Interruptible returns ctx for a try that may be cancelled while the node
// has not answered yet. The pooled HTTP/1.1 client otherwise sees a
// cancellation only before sending and after the answer's head, which costs
// nothing on the usual path; for such a try it cuts the connection at once.
func Interruptible(ctx context.Context) context.Context { return &interruptCtx{ctx} }
