package upstream

import "time"

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
	// GateTrial: the trial call is in flight, or its verdict is being
	// judged; no other call is placed.
	GateTrial
)

var gateNames = [...]string{"closed", "open", "half_open", "half_open"}

func (g Gate) String() string {
	if int(g) < len(gateNames) {
		return gateNames[g]
	}
	return "invalid"
}

// The node's gate word holds the Gate in its low bits and, above them,
// the calls the node admitted whose outcome is not reported yet (Settle,
// EndTrial). One word lets TryAcquire admit a call and the trial with one
// compare-and-swap against the breaker's transitions.
const (
	gateMask = 3
	oneCall  = gateMask + 1
)

// Gate returns the node's breaker state.
func (n *Node) Gate() Gate { return Gate(n.gate.Load() & gateMask) }

// SetGate sets the node's breaker state; a change into or out of GateOpen
// rebuilds the network's view.
func (n *Node) SetGate(g Gate) {
	for {
		cur := n.gate.Load()
		if n.gate.CompareAndSwap(cur, cur&^gateMask|uint64(g)) {
			if (Gate(cur&gateMask) == GateOpen) != (g == GateOpen) {
				n.changed()
			}
			return
		}
	}
}

// admit lets a call through the gate and counts it out until its outcome
// is reported. A half-open node takes its trial only when no call is out:
// a call placed before the breaker opened must not have its outcome taken
// for the trial's.
func (n *Node) admit() bool {
	for {
		cur := n.gate.Load()
		next := cur + oneCall
		switch Gate(cur & gateMask) {
		case GateClosed:
		case GateHalfOpen:
			if cur >= oneCall {
				return false
			}
			next = next&^gateMask | uint64(GateTrial)
		default:
			return false
		}
		if n.gate.CompareAndSwap(cur, next) {
			return true
		}
	}
}

// Settle reports the outcome of a call the node admitted (TryAcquire) and
// returns the gate it is judged under: GateClosed, it counts in the
// breaker's window; GateTrial, it was the trial; any other, it is no
// verdict (a call placed before the breaker opened). verdict false (the
// client went away, the node was only behind, no call went) puts a trial
// back to GateHalfOpen, so the next call is the trial. Every admitted
// call's outcome is reported once, by the breaker or by EndTrial.
func (n *Node) Settle(verdict bool) Gate {
	for {
		cur := n.gate.Load()
		g := Gate(cur & gateMask)
		if cur < oneCall {
			// An outcome of no admitted call: judged only while closed.
			if g != GateClosed {
				g = GateOpen
			}
			return g
		}
		next := cur - oneCall
		if g == GateTrial && !verdict {
			next = next&^gateMask | uint64(GateHalfOpen)
		}
		if n.gate.CompareAndSwap(cur, next) {
			return g
		}
	}
}

// EndTrial reports that a call the node admitted ended without a verdict
// on the node (no call went, the client went away): Settle(false). Only
// the trial call itself ends a trial this way.
func (n *Node) EndTrial() { n.Settle(false) }

// passable reports whether admit would let a call through now.
func (n *Node) passable() bool {
	cur := n.gate.Load()
	switch Gate(cur & gateMask) {
	case GateClosed:
		return true
	case GateHalfOpen:
		return cur < oneCall
	}
	return false
}

// ObserveAbandoned counts a try given up after took (a hedged try that
// lost the race) in the node's answer time: the node was at least that
// slow, and a cancelled try must not make it look faster than it is.
func (n *Node) ObserveAbandoned(took time.Duration) { n.answers.Observe(Now(), took) }
