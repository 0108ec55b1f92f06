package upstream

import "time"

// Inherit copies old's live state (head, block time, latency, load, health,
// failures, chain id, the methods it does not serve, a rate limit answer's
// cool-down, its rate limit's bucket and the tokens it holds of a shared
// one) into n, a node that takes old's place with a
// changed identity (weight, limits, headers changed by a configuration
// reload), so that it serves at once as old did instead of waiting for its
// first probe. Calls in flight stay counted on old; at the same URL, a
// rate limit answer one of them gets later cools n down (see serving).
// Call it before n is shared.
func (n *Node) Inherit(old *Node) {
	n.head.Store(old.head.Load())
	n.blockTime.Store(old.blockTime.Load())
	n.latency.Store(old.latency.Load())
	n.load.Store(old.load.Load())
	n.state.Store(old.state.Load())
	n.fails.Store(old.fails.Load())
	n.chainID.Store(old.chainID.Load())
	if n.Detected() && old.Detected() {
		n.stateMode.Store(old.stateMode.Load())
	}
	if n.URL == old.URL {
		n.missing.inherit(&old.missing)
		// The provider's Retry-After and what its rate limit has taken
		// hold whatever else changed: the bucket carries on, resized.
		n.coolUntil.Store(old.coolUntil.Load())
		if n.limiter != nil && old.limiter != nil {
			t := time.Now()
			old.limiter.SetLimitAt(t, n.limiter.Limit())
			old.limiter.SetBurstAt(t, n.limiter.Burst())
			n.limiter = old.limiter
		}
		if n.lease != nil && old.lease != nil {
			n.lease.inherit(old.lease)
		}
		old.successor.Store(n) // last: n's state is set before a late answer on old reaches it
	}
}

// serving is the node that serves in n's place now: n, or the last of the
// nodes at its URL that took its place by Inherit. A rate limit answer to
// a call that was in flight when a reload replaced its node is the
// provider's word on that URL: it must hold back the node that is sent
// calls now, not one that is sent none.
func (n *Node) serving() *Node {
	for next := n.successor.Load(); next != nil; next = n.successor.Load() {
		n = next
	}
	return n
}
