package balancer

import (
	"testing"
	"time"

	"github.com/evmgate/evmgate/internal/upstream"
)

// stateNode is an answering local node at head with a configured state
// mode (window blocks for a full node) and at most maxConc calls.
func stateNode(name string, head uint64, mode upstream.StateMode, window uint64, maxConc int) *upstream.Node {
	n := upstream.New(upstream.Spec{Name: name, URL: "http://127.0.0.1:1", State: mode, StateWindow: window, MaxConcurrency: maxConc})
	n.ObserveHead(head, 0, time.Millisecond)
	n.SetState(upstream.Up)
	return n
}

func TestPickStateGoesToNodesHoldingIt(t *testing.T) {
	full := stateNode("full", 1000, upstream.StateFull, 128, 1)
	archive := stateNode("archive", 1000, upstream.StateArchive, 0, 1)
	p := NewPool(rules(5, 5, false, 0), []*upstream.Node{full, archive})

	for range 20 {
		n := p.Pick(nil, Need{}.NeedState(100))
		if n != archive {
			t.Fatalf("old state picked %v, want the archive node", n)
		}
		n.Release()
	}
	// The archive node busy: a call for old state waits for it rather
	// than failing on the full node; one within the full node's window
	// takes the full node.
	busy := p.Pick(nil, Need{}.NeedState(100))
	if n := p.Pick(nil, Need{}.NeedState(100)); n != nil {
		t.Fatalf("archive node busy: Pick = %s, want nil (wait)", n.Name)
	}
	if n := p.Pick(nil, Need{}.NeedState(1000-128)); n != full {
		t.Fatalf("archive node busy, recent state: Pick = %v, want the full node", n)
	} else {
		n.Release()
	}
	busy.Release()
	// The archive node tried already: any node, as before.
	if n := p.Pick([]*upstream.Node{archive}, Need{}.NeedState(100)); n != full {
		t.Fatalf("archive node tried: Pick = %v, want the full node", n)
	} else {
		n.Release()
	}
}

func TestPickStateWithoutArchiveGoesAnywhere(t *testing.T) {
	full := stateNode("full", 1000, upstream.StateFull, 128, 0)
	unknown := stateNode("unknown", 1000, upstream.StateUnknown, 0, 0)
	p := NewPool(rules(5, 5, false, 0), []*upstream.Node{full})
	if n := p.Pick(nil, Need{}.NeedState(1)); n != full {
		t.Fatalf("no archive node: Pick = %v, want the full node", n)
	}
	p.SetNodes([]*upstream.Node{full, unknown})
	for range 10 {
		n := p.Pick(nil, Need{}.NeedState(1))
		if n != unknown {
			t.Fatalf("a node of unknown history is taken to hold state: Pick = %v", n)
		}
		n.Release()
	}
}

func TestNeedStateKeepsTheOldest(t *testing.T) {
	need := Need{}.NeedState(50).NeedState(10).NeedState(70)
	if !need.State || need.StateBlock != 10 {
		t.Fatalf("need = %+v, want state at 10", need)
	}
}

func TestPickPinnedNode(t *testing.T) {
	a := stateNode("a", 100, upstream.StateUnknown, 0, 1)
	b := stateNode("b", 100, upstream.StateUnknown, 0, 1)
	p := NewPool(rules(5, 5, false, 0), []*upstream.Node{a, b})
	for range 10 {
		n := p.Pick(nil, Need{Node: b})
		if n != b {
			t.Fatalf("pinned to b: Pick = %v", n)
		}
		n.Release()
	}
	held := p.Pick(nil, Need{Node: b})
	if n := p.Pick(nil, Need{Node: b}); n != nil {
		t.Fatalf("pinned node busy: Pick = %s, want nil (wait)", n.Name)
	}
	held.Release()
	if n := p.Pick([]*upstream.Node{b}, Need{Node: b}); n != a {
		t.Fatalf("pinned node tried: Pick = %v, want a", n)
	} else {
		n.Release()
	}
	b.SetState(upstream.Down)
	if n := p.Pick(nil, Need{Node: b}); n != a {
		t.Fatalf("pinned node down: Pick = %v, want a", n)
	} else {
		n.Release()
	}
}

// A Sticky pin (a filter's node) holds while its node answers, in
// rotation or not (lagging here), and is dropped once the node is down or
// no longer in the pool (a reload removed it).
func TestPickStickyPin(t *testing.T) {
	a := stateNode("a", 100, upstream.StateUnknown, 0, 0)
	b := stateNode("b", 90, upstream.StateUnknown, 0, 0) // past network_block_diff: out of rotation
	p := NewPool(rules(5, 5, false, 0), []*upstream.Node{a, b})
	pick := func(need Need) *upstream.Node {
		t.Helper()
		n := p.Pick(nil, need)
		if n != nil {
			n.Release()
		}
		return n
	}
	if n := pick(Need{Node: b}); n != a {
		t.Fatalf("a pin to a lagging node: Pick = %v, want a (a plain pin needs rotation)", n)
	}
	if n := pick(Need{Node: b, Sticky: true}); n != b {
		t.Fatalf("a sticky pin to a lagging node: Pick = %v, want b", n)
	}
	b.SetState(upstream.Down)
	if n := pick(Need{Node: b, Sticky: true}); n != a {
		t.Fatalf("a sticky pin to a node down: Pick = %v, want a", n)
	}
	b.SetState(upstream.Up)
	p.SetNodes([]*upstream.Node{a})
	if n := pick(Need{Node: b, Sticky: true}); n != a {
		t.Fatalf("a sticky pin to a node the pool no longer has: Pick = %v, want a", n)
	}
}

func TestPickSeenHead(t *testing.T) {
	behind := stateNode("behind", 97, upstream.StateUnknown, 0, 0)
	tip := stateNode("tip", 100, upstream.StateUnknown, 0, 0)
	p := NewPool(rules(5, 5, false, 0), []*upstream.Node{behind, tip})
	for _, seen := range []uint64{98, 100, 105} { // beyond the network head: the nodes at it
		for range 10 {
			if n := p.Pick(nil, Need{Seen: seen}); n != tip {
				t.Fatalf("seen %d: Pick = %v, want tip", seen, n)
			}
			tip.Release()
		}
	}
}

func TestPickNeedAllocatesNothing(t *testing.T) {
	full := stateNode("full", 1000, upstream.StateFull, 128, 0)
	archive := stateNode("archive", 1000, upstream.StateArchive, 0, 0)
	p := NewPool(rules(5, 5, false, 0), []*upstream.Node{full, archive})
	need := Need{Seen: 999, Node: archive}.NeedState(3)
	allocs := testing.AllocsPerRun(100, func() {
		p.Pick(nil, need).Release()
		p.Pick([]*upstream.Node{archive}, need).Release()
	})
	if allocs != 0 {
		t.Fatalf("Pick with a need allocates %.1f times", allocs)
	}
}

// A head the client was served stays out of reach of nodes below it when
// the node that served it is out of rotation (syncing) or its probe raced
// the answer and lowered its head.
func TestPickSeenHeadBeyondRotation(t *testing.T) {
	ahead := stateNode("ahead", 15, upstream.StateUnknown, 0, 0)
	behind := stateNode("behind", 14, upstream.StateUnknown, 0, 0)
	p := NewPool(rules(5, 5, false, 0), []*upstream.Node{ahead, behind})

	ahead.SawHead(16)                          // an eth_blockNumber answer showed 16
	ahead.ObserveHead(15, 0, time.Millisecond) // a probe sent earlier says 15
	for range 10 {
		if n := p.Pick(nil, Need{Seen: 16}); n != ahead {
			t.Fatalf("probe raced the answer: Pick = %v, want ahead", n)
		}
		ahead.Release()
	}
	ahead.SetState(upstream.Syncing)
	for range 10 {
		if n := p.Pick(nil, Need{Seen: 16}); n != ahead {
			t.Fatalf("syncing node holds the served head: Pick = %v, want ahead", n)
		}
		ahead.Release()
	}
	ahead.SetState(upstream.Down) // its heads are forgotten: the others serve
	if n := p.Pick(nil, Need{Seen: 16}); n != behind {
		t.Fatalf("the node that served is down: Pick = %v, want behind", n)
	}
}

func TestPickMethodSkipsNodesWithoutIt(t *testing.T) {
	geth := stateNode("geth", 1000, upstream.StateArchive, 0, 1)
	erigon := stateNode("erigon", 1000, upstream.StateFull, 128, 1)
	p := NewPool(rules(5, 5, false, 0), []*upstream.Node{geth, erigon})
	geth.LearnMissing("trace_block")
	for range 20 {
		n := p.Pick(nil, Need{Method: "trace_block"})
		if n != erigon {
			t.Fatalf("trace_block picked %v, want the node that serves it", n)
		}
		n.Release()
	}
	// The node that serves it busy: the call waits for it.
	busy := p.Pick(nil, Need{Method: "trace_block"})
	if n := p.Pick(nil, Need{Method: "trace_block"}); n != nil {
		t.Fatalf("erigon busy: Pick = %s, want nil (wait)", n.Name)
	}
	busy.Release()
	// Tried already, or no node serves it: any node, whose answer is the client's.
	if n := p.Pick([]*upstream.Node{erigon}, Need{Method: "trace_block"}); n != geth {
		t.Fatalf("erigon tried: Pick = %v, want geth", n)
	} else {
		n.Release()
	}
	erigon.LearnMissing("trace_block")
	if n := p.Pick(nil, Need{Method: "trace_block"}); n == nil {
		t.Fatal("no node serves the method: Pick = nil, want any node")
	} else {
		n.Release()
	}
	// Old state only on geth, trace_ only on erigon: the method is dropped,
	// not the state, and the call does not wait for ever.
	erigon2 := stateNode("erigon2", 1000, upstream.StateFull, 128, 1)
	p2 := NewPool(rules(5, 5, false, 0), []*upstream.Node{geth, erigon2})
	geth.LearnMissing("debug_traceCall")
	if n := p2.Pick(nil, Need{Method: "debug_traceCall"}.NeedState(10)); n != geth {
		t.Fatalf("state and method on different nodes: Pick = %v, want geth (holds the state)", n)
	} else {
		n.Release()
	}
}
