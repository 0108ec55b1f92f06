package balancer

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/evmgate/evmgate/internal/upstream"
)

func TestNetworkHead(t *testing.T) {
	tests := []struct {
		name  string
		heads []uint64
		tol   uint64
		want  uint64
	}{
		{"none", nil, 5, 0},
		{"single node: its own head", []uint64{100}, 5, 100},
		{"single liar: its own head", []uint64{math.MaxUint64}, 5, math.MaxUint64},
		{"two nodes that agree", []uint64{98, 100}, 5, 100},
		{"two nodes far apart: the lower", []uint64{1_000_000, 100}, 5, 100},
		{"liar far ahead does not raise the head", []uint64{100, 1 << 40, 99, 101}, 5, 101},
		{"liar at the uint64 limit", []uint64{100, math.MaxUint64, 100}, 5, 100},
		{"highest confirmed, not the median", []uint64{100, 104, 60, 50}, 5, 104},
		{"no confirmation: lower median of three", []uint64{300, 100, 200}, 5, 200},
		{"no confirmation: lower median of four", []uint64{400, 100, 300, 200}, 5, 200},
		{"liar and a stuck node: the median", []uint64{1 << 40, 100, 50}, 5, 100},
		{"tolerance 0 needs equal heads", []uint64{100, 99, 100}, 0, 100},
		{"tolerance 0 without equal heads", []uint64{101, 100, 99}, 0, 100},
		{"genesis", []uint64{0, 0}, 5, 0},
		{"two liars that agree do raise it", []uint64{1 << 40, 1 << 40, 100}, 5, 1 << 40},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := slices.Clone(tt.heads)
			if got := NetworkHead(in, tt.tol); got != tt.want {
				t.Errorf("NetworkHead(%v, %d) = %d, want %d", tt.heads, tt.tol, got, tt.want)
			}
			if !slices.Equal(in, tt.heads) {
				t.Errorf("input reordered: %v", in)
			}
		})
	}
}

// TestNetworkHeadOneLiar: with at least two honest nodes within tolerance
// of each other, one node reporting any head at all keeps the network head
// between the lowest honest head and the highest plus tolerance.
func TestNetworkHeadOneLiar(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for range 5000 {
		tol := rng.Uint64N(10)
		base := 1000 + rng.Uint64N(1000)
		honest := make([]uint64, 2+rng.IntN(5))
		for i := range honest {
			honest[i] = base + rng.Uint64N(tol+1)
		}
		liar := []uint64{0, rng.Uint64(), base + rng.Uint64N(3*tol+3), math.MaxUint64}[rng.IntN(4)]
		heads := append(slices.Clone(honest), liar)
		rng.Shuffle(len(heads), func(i, j int) { heads[i], heads[j] = heads[j], heads[i] })
		got := NetworkHead(heads, tol)
		if got < slices.Min(honest) || got > slices.Max(honest)+tol {
			t.Fatalf("NetworkHead(%v, %d) = %d, honest %v", heads, tol, got, honest)
		}
	}
}

func rules(diff, fallbackDiff uint64, switchOn bool, threshold uint64) Rules {
	return Rules{
		NetworkBlockDiff: diff, FallbackBlockDiff: fallbackDiff,
		SwitchToFallback: switchOn, SwitchThreshold: threshold,
		Priority: []Criterion{ByChainhead, ByLatency}, Strategy: Best{},
	}
}

// TestStakeSquidScenarios reproduces each scenario of StakeSquid's README:
// network_block_diff filtering, fallback_block_diff, the fallback switch
// with its example values (diff 5, threshold 10; nodes 6 and 11 blocks
// behind) and the tier order.
func TestStakeSquidScenarios(t *testing.T) {
	down := func(d nd) nd { return d.withState(upstream.Down) }
	tests := []struct {
		name  string
		rules Rules
		nodes []nd
		want  viewWant
	}{
		{"network_block_diff 1: a node 2 behind is excluded", rules(1, 1, false, 0),
			[]nd{local("a", 100), local("b", 99), local("c", 98)},
			viewWant{head: 100, serving: upstream.Local, active: "a,b", rest: "c"}},
		{"network_block_diff 3: nodes up to 3 behind serve", rules(3, 3, false, 0),
			[]nd{local("a", 100), local("b", 99), local("c", 97)},
			viewWant{head: 100, serving: upstream.Local, active: "a,b,c"}},
		{"example flow: the lagging local is skipped, same head goes by latency", rules(5, 5, false, 0),
			[]nd{local("a", 100).withLatencyMS(20), local("b", 100).withLatencyMS(10), local("c", 90).withLatencyMS(1)},
			viewWant{head: 100, serving: upstream.Local, active: "b,a", rest: "c"}},
		{"local 6 behind is not served (diff 5); under the threshold, monitoring serves", rules(5, 5, true, 10),
			[]nd{local("l1", 94), local("l2", 94), monitoring("m1", 100), fallback("f1", 100), fallback("f2", 99)},
			viewWant{head: 100, serving: upstream.Monitoring, active: "m1", backup: "f1,f2", rest: "l1,l2"}},
		{"every local 11 behind (threshold 10): fallback serves before monitoring", rules(5, 5, true, 10),
			[]nd{local("l1", 89), local("l2", 89), monitoring("m1", 100), fallback("f1", 100), fallback("f2", 99)},
			viewWant{head: 100, serving: upstream.Fallback, active: "f1,f2", backup: "m1", rest: "l1,l2"}},
		{"every local exactly 10 behind is not more than the threshold", rules(5, 5, true, 10),
			[]nd{local("l1", 90), monitoring("m1", 100), fallback("f1", 100)},
			viewWant{head: 100, serving: upstream.Monitoring, active: "m1", backup: "f1", rest: "l1"}},
		{"locals 11 behind without switch_to_fallback_enabled: monitoring serves", rules(5, 5, false, 10),
			[]nd{local("l1", 89), local("l2", 89), monitoring("m1", 100), fallback("f1", 100), fallback("f2", 99)},
			viewWant{head: 100, serving: upstream.Monitoring, active: "m1", backup: "f1,f2", rest: "l1,l2"}},
		{"one local in sync keeps the local tier serving", rules(5, 5, true, 10),
			[]nd{local("l1", 100), local("l2", 89), monitoring("m1", 100), fallback("f1", 100)},
			viewWant{head: 100, serving: upstream.Local, active: "l1", backup: "m1,f1", rest: "l2"}},
		{"a wide network_block_diff: locals 11 behind stay eligible but fallback serves first", rules(20, 20, true, 10),
			[]nd{local("l1", 89), local("l2", 88), monitoring("m1", 100), fallback("f1", 100), fallback("f2", 99)},
			viewWant{head: 100, serving: upstream.Fallback, active: "f1,f2", backup: "l1,l2,m1"}},
		{"down locals count as behind: the switch happens", rules(5, 5, true, 10),
			[]nd{down(local("l1", 100)), monitoring("m1", 100), fallback("f1", 100)},
			viewWant{head: 100, serving: upstream.Fallback, active: "f1", backup: "m1", rest: "l1"}},
		{"a fallback node within 5 of the head becomes active, one 6 behind does not", rules(5, 5, true, 10),
			[]nd{local("l1", 89), fallback("f0", 100), fallback("f1", 95), fallback("f2", 94)},
			viewWant{head: 100, serving: upstream.Fallback, active: "f0,f1", rest: "f2,l1"}},
		{"every local 11 behind and a single fallback at the tip: the fallback sets the head and serves", rules(5, 5, true, 10),
			[]nd{local("l1", 89), local("l2", 89), fallback("f1", 100)},
			viewWant{head: 100, serving: upstream.Fallback, active: "f1", rest: "l1,l2"}},
		{"two stuck locals agreeing do not outvote the node at the tip", rules(5, 5, false, 0),
			[]nd{local("l1", 50), local("l2", 50), fallback("f1", 100)},
			viewWant{head: 100, serving: upstream.Fallback, active: "f1", rest: "l1,l2"}},
		{"fallback_block_diff 50: a fallback 40 behind is a backup, 60 behind is not", rules(5, 50, false, 0),
			[]nd{local("l1", 100), local("l2", 100), fallback("f1", 60), fallback("f2", 40)},
			viewWant{head: 100, serving: upstream.Local, active: "l1,l2", backup: "f1", rest: "f2"}},
		{"fallback_block_diff does not apply to monitoring nodes", rules(5, 50, false, 0),
			[]nd{local("l1", 100), monitoring("m1", 93), fallback("f1", 93)},
			viewWant{head: 100, serving: upstream.Local, active: "l1", backup: "f1", rest: "m1"}},
		{"local, then monitoring, then fallback", rules(5, 5, false, 0),
			[]nd{fallback("f1", 100), monitoring("m1", 100), local("l1", 100), local("l2", 100), monitoring("m2", 100)},
			viewWant{head: 100, serving: upstream.Local, active: "l1,l2", backup: "m1,m2,f1"}},
		{"no local in sync: monitoring serves", rules(5, 5, false, 0),
			[]nd{down(local("l1", 100)), monitoring("m1", 100), fallback("f1", 100)},
			viewWant{head: 100, serving: upstream.Monitoring, active: "m1", backup: "f1", rest: "l1"}},
		{"neither local nor monitoring: fallback serves", rules(5, 5, false, 0),
			[]nd{down(local("l1", 100)), down(monitoring("m1", 100)), fallback("f1", 100)},
			viewWant{head: 100, serving: upstream.Fallback, active: "f1", rest: "l1,m1"}},
		{"the head is taken over every tier", rules(5, 5, false, 0),
			[]nd{local("l1", 90), fallback("f1", 100), fallback("f2", 100)},
			viewWant{head: 100, serving: upstream.Fallback, active: "f1,f2", rest: "l1"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := NewPool(tt.rules, buildAll(tt.nodes))
			checkView(t, p.View(), tt.want)
			if tt.want.active != "" {
				n := p.Pick(nil, Need{})
				if n == nil || n != p.View().Active[0] {
					t.Errorf("Pick with best = %v, want %s", n, p.View().Active[0].Name)
				}
				n.Release()
			}
		})
	}
}

// TestLoadBalancePriority: candidates are ordered by the first criterion
// first; later criteria only break its ties.
func TestLoadBalancePriority(t *testing.T) {
	three := []nd{
		local("a", 100).withLatencyMS(10).withLoad(0.5),
		local("b", 100).withLatencyMS(30).withLoad(0.2),
		local("c", 100).withLatencyMS(20).withLoad(0.2),
	}
	tests := []struct {
		name  string
		prio  []Criterion
		nodes []nd
		want  string
	}{
		{"load then latency", []Criterion{ByLoad, ByLatency}, three, "c,b,a"},
		{"latency then load", []Criterion{ByLatency, ByLoad}, three, "a,c,b"},
		{"latency ties broken by load", []Criterion{ByLatency, ByLoad},
			[]nd{local("a", 100).withLatencyMS(10).withLoad(0.9), local("b", 100).withLatencyMS(10).withLoad(0.1)}, "b,a"},
		{"load ties broken by latency", []Criterion{ByLoad, ByLatency},
			[]nd{local("a", 100).withLatencyMS(30).withLoad(1), local("b", 100).withLatencyMS(10).withLoad(1)}, "b,a"},
		{"chainhead then latency", []Criterion{ByChainhead, ByLatency},
			[]nd{local("a", 99).withLatencyMS(1), local("b", 100).withLatencyMS(50)}, "b,a"},
		{"latency then chainhead", []Criterion{ByLatency, ByChainhead},
			[]nd{local("a", 99).withLatencyMS(1), local("b", 100).withLatencyMS(50)}, "a,b"},
		{"no criteria: configuration order", nil, three, "a,b,c"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := rules(5, 5, false, 0)
			r.Priority = tt.prio
			p := NewPool(r, buildAll(tt.nodes))
			if got := names(p.View().Active); got != tt.want {
				t.Errorf("Active = [%s], want [%s]", got, tt.want)
			}
			n := p.Pick(nil, Need{}) // best: the first by priority
			if n.Name != tt.want[:1] {
				t.Errorf("Pick = %s, want %s", n.Name, tt.want[:1])
			}
			n.Release()
		})
	}
}

// TestOutliers: a node far ahead of the confirmed head is not served, and
// comes last among answering nodes when failing open.
func TestOutliers(t *testing.T) {
	p := NewPool(rules(5, 5, false, 0), buildAll([]nd{
		local("liar", 1<<40), local("h1", 100), local("h2", 101), local("lag", 90),
	}))
	checkView(t, p.View(), viewWant{head: 101, serving: upstream.Local, active: "h2,h1", rest: "lag,liar"})

	// With a single honest node the liar still cannot raise the head.
	p = NewPool(rules(5, 5, false, 0), buildAll([]nd{local("liar", 1<<40), local("h1", 100)}))
	checkView(t, p.View(), viewWant{head: 100, serving: upstream.Local, active: "h1", rest: "liar"})

	// A narrower outlier window treats a smaller lead as a lie.
	r := rules(5, 5, false, 0)
	r.OutlierBlockDiff = 10
	p = NewPool(r, buildAll([]nd{local("liar", 130), local("h1", 100), local("h2", 100)}))
	checkView(t, p.View(), viewWant{head: 100, serving: upstream.Local, active: "h1,h2", rest: "liar"})

	// A node a little ahead, within network_block_diff, is no outlier.
	p = NewPool(rules(5, 5, false, 0), buildAll([]nd{local("a", 100), local("b", 100), local("c", 104)}))
	checkView(t, p.View(), viewWant{head: 104, serving: upstream.Local, active: "c,a,b"})
}

// TestFailOpenOrder: with no eligible node, Rest is tried: answering nodes
// best head first, then unknown, then down; never a node on the wrong chain.
func TestFailOpenOrder(t *testing.T) {
	nodes := buildAll([]nd{
		local("down", 100).withState(upstream.Down),
		local("wrong", 100).withState(upstream.WrongChain),
		local("syncing", 90).withState(upstream.Syncing),
		fallback("stale", 95).withState(upstream.Stale),
	})
	nodes = append(nodes, unknownNode("unknown", upstream.Local))
	p := NewPool(rules(5, 5, false, 0), nodes)
	checkView(t, p.View(), viewWant{head: 0, rest: "stale,syncing,unknown,down"})

	var tried []*upstream.Node
	for _, want := range []string{"stale", "syncing", "unknown", "down"} {
		n := p.Pick(tried, Need{})
		if n == nil || n.Name != want {
			t.Fatalf("after %s: Pick = %v, want %s", names(tried), n, want)
		}
		n.Release()
		tried = append(tried, n)
	}
	if n := p.Pick(tried, Need{}); n != nil {
		t.Errorf("every node tried: Pick = %s, want nil", n.Name)
	}
	if p.CanPick(tried) {
		t.Error("CanPick = true with every node tried")
	}
}

// TestRefreshOnChange: a node's state or head change rebuilds the view.
func TestRefreshOnChange(t *testing.T) {
	p := NewPool(rules(5, 5, false, 0), buildAll([]nd{local("a", 100), local("b", 100), fallback("f", 100)}))
	a, b := byName(t, p, "a"), byName(t, p, "b")
	checkView(t, p.View(), viewWant{head: 100, serving: upstream.Local, active: "a,b", backup: "f"})

	a.SetState(upstream.Down)
	checkView(t, p.View(), viewWant{head: 100, serving: upstream.Local, active: "b", backup: "f", rest: "a"})
	if p.View().Eligible(a) || !p.View().Eligible(b) {
		t.Error("Eligible")
	}

	b.ObserveHead(90, 0, time.Millisecond) // b falls 10 behind f: f sets the head and serves
	checkView(t, p.View(), viewWant{head: 100, serving: upstream.Fallback, active: "f", rest: "b,a"})

	a.SetState(upstream.Up)
	a.ObserveHead(101, 0, time.Millisecond)
	checkView(t, p.View(), viewWant{head: 101, serving: upstream.Local, active: "a", backup: "f", rest: "b"})

	p.SetNodes([]*upstream.Node{b})
	checkView(t, p.View(), viewWant{head: 90, serving: upstream.Local, active: "b"})
	if len(p.Nodes()) != 1 {
		t.Errorf("Nodes = %s", names(p.Nodes()))
	}
}
