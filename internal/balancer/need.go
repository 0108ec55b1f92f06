package balancer

import (
	"slices"

	"github.com/evmgate/evmgate/internal/upstream"
)

// Need is what a call asks of the node that serves it. The zero Need asks
// nothing. It is passed by value down the pick path and never allocates.
type Need struct {
	// MinHead, when not 0, skips nodes whose head is below it (the call
	// names that block, or the client was already served that head). A
	// MinHead beyond the network head is dropped: any node answers the same.
	MinHead uint64
	// Seen, when not 0, skips nodes whose head is below it: the highest
	// head the client has been served, so its view never goes back. A
	// node's head here is the highest it is known to have reached (its
	// probe's or one its answers showed). Beyond every node's head it is
	// taken as the highest head a node reached.
	Seen uint64
	// State, when set, asks for a node that still holds the state at
	// StateBlock (an archive node, or a full node whose window covers it).
	// When no eligible node does, it is dropped: the call goes to any node,
	// whose own answer is the client's.
	State      bool
	StateBlock uint64
	// Method, when set, is the call's method: nodes whose methods lists do
	// not admit it are never picked, and nodes that answered "method not
	// found" for it lately are passed over while an eligible node not tried
	// yet serves it (else the call goes to any node that admits it, whose
	// own answer is the client's).
	Method string
	// lacksOK: nodes that answered "method not found" for Method may be
	// picked (no eligible node serves it).
	lacksOK bool
	// Admit, when set, must accept a node: a batch of several methods goes
	// only to a node whose methods lists admit one of its calls.
	Admit func(n *upstream.Node) bool
	// Node, when set, is the node the call must go to (the node that
	// accepted the client's transaction). While it is not eligible or was
	// already tried for the call, it is dropped.
	Node *upstream.Node
	// Sticky keeps Node while it answers, eligible or not (lagging,
	// syncing, stale): what the call asks for lives on that node alone (a
	// filter). It is dropped once down, on another chain or tried.
	Sticky bool
	// Calls, when set, holds the calls that go to the node (a batch's
	// still unanswered, by index): its rate limit counts each. nil is one.
	Calls *[]int
}

// calls is how many calls go to the node.
func (need Need) calls() int {
	if need.Calls == nil {
		return 1
	}
	return len(*need.Calls)
}

// NeedState returns need asking also for the state at block; of several
// state blocks the oldest is the strictest.
func (need Need) NeedState(block uint64) Need {
	if !need.State || block < need.StateBlock {
		need.State, need.StateBlock = true, block
	}
	return need
}

// fits reports whether n meets the need, slots and tries aside.
func (need Need) fits(n *upstream.Node) bool {
	return (need.MinHead == 0 || n.Head() >= need.MinHead) && (need.Seen == 0 || reached(n) >= need.Seen) &&
		(!need.State || n.HasState(need.StateBlock)) &&
		(need.Node == nil || n == need.Node) &&
		need.Admits(n) && (need.Method == "" || need.lacksOK || !n.Lacks(need.Method))
}

// Admits reports whether n's methods lists let it take the call: its
// method, or one of a batch's (Admit).
func (need Need) Admits(n *upstream.Node) bool {
	return (need.Method == "" || n.Admits(need.Method)) && (need.Admit == nil || need.Admit(n))
}

// reached is the highest head n is known to have reached: its last probe's,
// or a newer one its answers showed.
func reached(n *upstream.Node) uint64 { return max(n.Head(), n.Shown()) }

// topHead is the highest head any node that answers has reached, eligible
// or not: a client's served head above it is out of every node's reach.
func topHead(v *View) uint64 {
	var top uint64
	for _, set := range [3][]*upstream.Node{v.Active, v.Backup, v.Rest} {
		for _, n := range set {
			top = max(top, reached(n))
		}
	}
	return top
}

// adjust drops what no node could meet or what holds no longer, as Pick
// does before it looks: a block beyond the network head, a served head
// beyond every node's, a pinned node out of rotation, heads for a method
// only nodes out of rotation admit; and lets nodes that lack the method be
// picked when no eligible one serves it.
func (need Need) adjust(v *View, tried []*upstream.Node) Need {
	if need.MinHead > v.Head {
		need.MinHead = 0 // a block beyond the network head: any node answers the same
	}
	if need.Seen > v.Head {
		// Only a node out of rotation (syncing, just lowered by a probe
		// that raced the answer) may have reached it: keep it, up to the
		// highest head any node reached.
		need.Seen = min(need.Seen, topHead(v))
	}
	if need.Node != nil && !need.holds(v) {
		need.Node = nil // a pinned node out of rotation: as if unpinned
	}
	if need.Method != "" && (need.MinHead != 0 || need.Seen != 0) && !anyFits(v, nil, Need{Method: need.Method, lacksOK: true}) {
		// No eligible node's methods lists admit the method: the nodes out
		// of rotation that admit it are tried as they are (their heads are
		// stale or unknown), as every call is when no node is eligible.
		need.MinHead, need.Seen = 0, 0
	}
	if need.Method != "" && !anyFits(v, tried, Need{Method: need.Method}) {
		// No eligible node serves the method: one that answered "method not
		// found" goes before a node out of rotation (down, syncing) that
		// has not said so yet.
		need.lacksOK = true
	}
	return need
}

// holds reports whether the pin on Node holds in v: the node is eligible,
// or the pin is Sticky and the node, still in the pool, answers (up,
// lagging, syncing or stale) though out of rotation. Such a node is picked
// from the nodes out of rotation, as when no node is eligible. A node a
// reload removed is in no set of v: its pin never holds.
func (need Need) holds(v *View) bool {
	if v.Eligible(need.Node) {
		return true
	}
	if !need.Sticky || !slices.Contains(v.Rest, need.Node) {
		return false
	}
	switch need.Node.State() {
	case upstream.Up, upstream.Syncing, upstream.Stale:
		return true
	}
	return false
}

// soft reports whether the need holds a part that relax may drop.
func (need Need) soft() bool {
	return need.State || need.Node != nil || need.Method != "" && !need.lacksOK
}

// relax drops the parts of need no eligible node can meet, whatever its
// slots: such a call goes where it would without them. It reports false
// when nothing was dropped (a node meets the need once it has a free slot:
// the call waits for it).
func (need Need) relax(v *View, tried []*upstream.Node) (Need, bool) {
	if need.Node != nil && (!need.holds(v) || slices.Contains(tried, need.Node) || !need.fits(need.Node)) {
		need.Node = nil
		return need, true
	}
	if need.State && !anyFits(v, tried, Need{MinHead: need.MinHead, Seen: need.Seen, State: true, StateBlock: need.StateBlock}) {
		need.State = false
		return need, true
	}
	if need.Method != "" && !need.lacksOK && !anyFits(v, tried, Need{MinHead: need.MinHead, Seen: need.Seen, State: need.State, StateBlock: need.StateBlock, Method: need.Method}) {
		need.lacksOK = true
		return need, true
	}
	return need, false
}

// anyFits reports whether an eligible node not yet tried meets need.
func anyFits(v *View, tried []*upstream.Node, need Need) bool {
	for _, set := range [2][]*upstream.Node{v.Active, v.Backup} {
		for _, n := range set {
			if need.fits(n) && !slices.Contains(tried, n) {
				return true
			}
		}
	}
	return false
}
