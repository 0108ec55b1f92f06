package balancer

import (
	"math"
	"sync"
	"testing"
	"time"

	"github.com/evmgate/evmgate/internal/methodset"
	"github.com/evmgate/evmgate/internal/upstream"
)

func TestOutlierWindow(t *testing.T) {
	tests := []struct {
		r    Rules
		want uint64
	}{
		{Rules{NetworkBlockDiff: 5, FallbackBlockDiff: 5}, DefaultOutlierBlockDiff},
		{Rules{NetworkBlockDiff: 5, FallbackBlockDiff: 50, SwitchThreshold: 10}, 100},
		{Rules{NetworkBlockDiff: 5, SwitchThreshold: 40}, 80},
		{Rules{NetworkBlockDiff: 5, OutlierBlockDiff: 7}, 7},
		{Rules{NetworkBlockDiff: math.MaxUint64}, math.MaxUint64},
	}
	for _, tt := range tests {
		if got := tt.r.outlierWindow(); got != tt.want {
			t.Errorf("%+v: window %d, want %d", tt.r, got, tt.want)
		}
	}
}

// TestPickTriedAndBackups: tried nodes are avoided; when the serving tier
// is used up, backups come in tier and priority order, then the rest.
func TestPickTriedAndBackups(t *testing.T) {
	p := NewPool(rules(5, 5, false, 0), buildAll([]nd{
		local("l1", 100).withLatencyMS(5), local("l2", 100).withLatencyMS(9),
		fallback("f1", 100), local("lag", 80),
	}))
	var tried []*upstream.Node
	for _, want := range []string{"l1", "l2", "f1", "lag"} {
		n := p.Pick(tried, Need{})
		if n == nil || n.Name != want {
			t.Fatalf("tried [%s]: Pick = %v, want %s", names(tried), n, want)
		}
		n.Release()
		tried = append(tried, n)
	}
	if n := p.Pick(tried, Need{}); n != nil {
		t.Fatalf("all tried: Pick = %s", n.Name)
	}
	if !p.CanPick(tried[:3]) || p.CanPick(tried) {
		t.Error("CanPick")
	}
}

// TestPickMinHead: a call naming a block goes only to nodes that have it,
// unless the block is beyond the network head (then no node has it).
func TestPickMinHead(t *testing.T) {
	r := rules(5, 5, false, 0)
	r.Priority = []Criterion{ByLatency}
	p := NewPool(r, buildAll([]nd{local("behind", 97).withLatencyMS(1), local("tip", 100).withLatencyMS(50)}))
	tests := []struct {
		minHead uint64
		want    string
	}{
		{0, "behind"},
		{97, "behind"},
		{98, "tip"},
		{100, "tip"},
		{101, "behind"}, // beyond the head: any node answers the same
	}
	for _, tt := range tests {
		n := p.Pick(nil, Need{MinHead: tt.minHead})
		if n == nil || n.Name != tt.want {
			t.Errorf("minHead %d: Pick = %v, want %s", tt.minHead, n, tt.want)
			continue
		}
		n.Release()
	}
	tip := byName(t, p, "tip")
	if n := p.Pick([]*upstream.Node{tip}, Need{MinHead: 99}); n != nil {
		t.Errorf("the only node with block 99 tried: Pick = %s", n.Name)
	}
}

// TestSlots: a node with max_concurrency takes that many calls; Pick moves
// on when its slots are full and the slot comes back on Release.
func TestSlots(t *testing.T) {
	n := local("a", 100).withMaxConcurrency(2).build()
	if !n.TryAcquire() || !n.TryAcquire() {
		t.Fatal("two slots")
	}
	if n.TryAcquire() || n.HasFreeSlot() || n.InFlight() != 2 {
		t.Fatal("a third slot was given")
	}
	n.Release()
	if !n.HasFreeSlot() || !n.TryAcquire() {
		t.Fatal("a released slot is free again")
	}
	n.Release()
	n.Release()

	unlimited := local("u", 100).build()
	for range 1000 {
		if !unlimited.TryAcquire() {
			t.Fatal("unlimited node refused a slot")
		}
	}
	if unlimited.InFlight() != 1000 {
		t.Errorf("InFlight = %d", unlimited.InFlight())
	}

	p := NewPool(rules(5, 5, false, 0), buildAll([]nd{
		local("a", 100).withMaxConcurrency(1), local("b", 100).withMaxConcurrency(1),
	}))
	first, second := p.Pick(nil, Need{}), p.Pick(nil, Need{})
	if first == nil || second == nil || first == second {
		t.Fatalf("Pick = %v, %v", first, second)
	}
	if n := p.Pick(nil, Need{}); n != nil || p.CanPick(nil) {
		t.Fatalf("every slot taken: Pick = %v", n)
	}
	second.Release()
	if n := p.Pick(nil, Need{}); n != second {
		t.Fatalf("after Release: Pick = %v, want %s", n, second.Name)
	}
}

// TestSlotsUnderContention: concurrent Picks never put more calls on a
// node than its max_concurrency.
func TestSlotsUnderContention(t *testing.T) {
	const maxConc = 3
	p := NewPool(rules(5, 5, false, 0), buildAll([]nd{
		local("a", 100).withMaxConcurrency(maxConc), local("b", 100).withMaxConcurrency(maxConc),
		fallback("f", 100).withMaxConcurrency(maxConc),
	}))
	var wg sync.WaitGroup
	errs := make(chan string, 8)
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 2000 {
				n := p.Pick(nil, Need{})
				if n == nil {
					continue
				}
				if f := n.InFlight(); f > maxConc {
					errs <- n.Name
					n.Release()
					return
				}
				n.Release()
			}
		}()
	}
	wg.Wait()
	close(errs)
	for name := range errs {
		t.Errorf("node %s had more than %d calls in flight", name, maxConc)
	}
	for _, n := range p.Nodes() {
		if n.InFlight() != 0 {
			t.Errorf("%s: %d slots not released", n.Name, n.InFlight())
		}
	}
}

// TestPickAllocs: placing a call allocates nothing.
func TestPickAllocs(t *testing.T) {
	for _, st := range []Strategy{P2C{}, LeastConn{}, &RoundRobin{}, Best{}} {
		r := rules(5, 5, false, 0)
		r.Strategy = st
		p := NewPool(r, buildAll([]nd{local("a", 100), local("b", 100), local("c", 100), fallback("f", 100)}))
		tried := []*upstream.Node{p.Nodes()[0]}
		allocs := testing.AllocsPerRun(200, func() {
			n := p.Pick(tried, Need{MinHead: 99})
			n.Release()
		})
		if allocs != 0 {
			t.Errorf("%T: %.1f allocations per Pick", st, allocs)
		}
	}
}

// otherStrategy is a Strategy the pool does not know.
type otherStrategy struct{}

func (otherStrategy) Pick(cands []*upstream.Node, ok func(*upstream.Node) bool) *upstream.Node {
	for i := len(cands) - 1; i >= 0; i-- {
		if ok(cands[i]) {
			return cands[i]
		}
	}
	return nil
}

func TestCustomStrategy(t *testing.T) {
	r := rules(5, 5, false, 0)
	r.Strategy = otherStrategy{}
	p := NewPool(r, buildAll([]nd{local("a", 100), local("b", 100), local("c", 100)}))
	c := byName(t, p, "c")
	if n := p.Pick(nil, Need{}); n != c {
		t.Fatalf("Pick = %v, want c", n)
	}
	c.Release()
	if n := p.Pick([]*upstream.Node{c}, Need{}); n == nil || n.Name != "b" {
		t.Fatalf("Pick = %v, want b", n)
	}
}

func TestNilStrategyIsP2C(t *testing.T) {
	p := NewPool(Rules{NetworkBlockDiff: 5}, buildAll([]nd{local("a", 100)}))
	if _, ok := p.rules.Strategy.(P2C); !ok {
		t.Errorf("strategy %T", p.rules.Strategy)
	}
}

// A call whose eligible node is busy waits for it: a node out of rotation
// (down, or lagging and so answering stale blocks) is not picked instead.
func TestBusyUpNodeDoesNotSpillToDownNode(t *testing.T) {
	p := NewPool(Rules{}, buildAll([]nd{
		local("up", 100).withMaxConcurrency(1),
		local("down", 100).withState(upstream.Down),
	}))
	first := p.Pick(nil, Need{})
	if first == nil || first.Name != "up" {
		t.Fatalf("first pick = %v", first)
	}
	if n := p.Pick(nil, Need{}); n != nil {
		t.Fatalf("up node busy: Pick = %s, want nil (wait for it)", n.Name)
	}
}

func TestBusyUpNodeDoesNotSpillToLaggingNode(t *testing.T) {
	p := NewPool(Rules{NetworkBlockDiff: 5}, buildAll([]nd{
		local("up", 100).withMaxConcurrency(1),
		local("lagging", 50),
	}))
	first := p.Pick(nil, Need{})
	if first == nil || first.Name != "up" {
		t.Fatalf("first pick = %v", first)
	}
	if n := p.Pick(nil, Need{}); n != nil {
		t.Fatalf("up node busy: Pick = %s, want nil (wait for it)", n.Name)
	}
}

// A node at its rate limit is passed over while another can take the call;
// when none can, the call waits (nil) and the pool calls OnReady once the
// soonest of them has room again.
func TestRateLimitedNodeWaits(t *testing.T) {
	limited := func(name string) *upstream.Node {
		n := upstream.New(upstream.Spec{Name: name, URL: "http://127.0.0.1:1", RateLimit: upstream.RateLimit{Rate: 20, Burst: 1}})
		n.ObserveHead(100, 0, time.Millisecond)
		n.SetState(upstream.Up)
		return n
	}
	a, b := limited("a"), limited("b")
	p := NewPool(Rules{}, []*upstream.Node{a, b})
	ready := make(chan struct{}, 8)
	p.OnReady(func() { ready <- struct{}{} })
	first := p.Pick(nil, Need{})
	second := p.Pick(nil, Need{})
	if first == nil || second == nil || first == second {
		t.Fatalf("picks %v, %v: want each node once", first, second)
	}
	first.Release()
	second.Release()
	if n := p.Pick(nil, Need{}); n != nil {
		t.Fatalf("both nodes at their rate limit: Pick = %s, want nil (wait)", n.Name)
	}
	select {
	case <-ready:
	case <-time.After(30 * time.Second):
		t.Fatal("OnReady not called once a node had room again")
	}
	n := p.Pick(nil, Need{})
	if n == nil {
		t.Fatal("no node after OnReady")
	}
	n.Release()
}

// A node that answered HTTP 429 cools down: calls go to the other node, or
// wait for it, not to a node out of rotation.
func TestCoolingNodeIsPassedOver(t *testing.T) {
	p := NewPool(Rules{}, buildAll([]nd{local("a", 100), local("down", 100).withState(upstream.Down)}))
	a := byName(t, p, "a")
	a.CoolDown(time.Minute)
	if n := p.Pick(nil, Need{}); n != nil {
		t.Fatalf("the only eligible node cools down: Pick = %s, want nil (wait)", n.Name)
	}
}

// A call refused only for the size of its batch is not waiting for a node
// of its own: the room left on the node it fits is its, not the calls
// behind it. Room on a node it cannot use is theirs.
func TestRoomElsewhere(t *testing.T) {
	capped := upstream.New(upstream.Spec{Name: "capped", URL: "http://127.0.0.1:1", RateLimit: upstream.RateLimit{Rate: 0.01, Burst: 10}})
	capped.ObserveHead(100, 0, time.Millisecond)
	capped.SetState(upstream.Up)
	other := upstream.New(upstream.Spec{Name: "other", URL: "http://127.0.0.1:2", Methods: methodset.NewFilter(methodset.Lists{Deny: []string{"eth_call"}})})
	other.ObserveHead(100, 0, time.Millisecond)
	other.SetState(upstream.Up)
	p := NewPool(Rules{}, []*upstream.Node{capped, other})
	for range 7 {
		n := p.Pick(nil, Need{Method: "eth_call"})
		if n != capped {
			t.Fatalf("eth_call went to %v, want capped", n)
		}
		n.Release()
	}
	batch := make([]int, 10)
	need := Need{Method: "eth_call", Calls: &batch}
	if n := p.Pick(nil, need); n != nil {
		t.Fatalf("a batch of 10 with 3 calls of room went to %s", n.Name)
	}
	if !p.RoomElsewhere(nil, need) {
		t.Fatal("the node the batch cannot use has room: the calls behind may take it")
	}
	other.SetState(upstream.Down)
	p.Refresh()
	if p.RoomElsewhere(nil, need) {
		t.Fatal("the only room is on the node the batch waits for: it is the batch's, not the calls' behind it")
	}
}
