package balancer

import (
	"fmt"
	"testing"
	"time"

	"github.com/evmgate/evmgate/internal/upstream"
)

func all(*upstream.Node) bool { return true }

// count picks n times with s and returns the picks per node name.
func count(s Strategy, cands []*upstream.Node, ok func(*upstream.Node) bool, n int) map[string]int {
	got := map[string]int{}
	for range n {
		if c := s.Pick(cands, ok); c != nil {
			got[c.Name]++
		} else {
			got["<nil>"]++
		}
	}
	return got
}

// hold takes k slots on n, as k calls in flight would (k < 0 releases).
func hold(n *upstream.Node, k int) {
	for range k {
		n.TryAcquire()
	}
	for range -k {
		n.Release()
	}
}

func TestNewStrategy(t *testing.T) {
	for name, want := range map[string]string{"": "balancer.P2C", "p2c": "balancer.P2C", "least_conn": "balancer.LeastConn",
		"round_robin": "*balancer.RoundRobin", "best": "balancer.Best"} {
		s, err := NewStrategy(name)
		if err != nil || fmt.Sprintf("%T", s) != want {
			t.Errorf("NewStrategy(%q) = %T, %v; want %s", name, s, err, want)
		}
	}
	if _, err := NewStrategy("random"); err == nil {
		t.Error("NewStrategy(random) succeeded")
	}
}

// TestStrategiesEmpty: no candidate, or none accepted, is nil for every strategy.
func TestStrategiesEmpty(t *testing.T) {
	cands := buildAll([]nd{local("a", 1), local("b", 1)})
	none := func(*upstream.Node) bool { return false }
	for _, s := range []Strategy{P2C{}, LeastConn{}, &RoundRobin{}, Best{}} {
		if s.Pick(nil, all) != nil || s.Pick(cands, none) != nil {
			t.Errorf("%T picked from nothing", s)
		}
	}
}

// TestP2CSpreads: equal idle nodes share the traffic.
func TestP2CSpreads(t *testing.T) {
	cands := buildAll([]nd{local("a", 1), local("b", 1), local("c", 1)})
	got := count(P2C{}, cands, all, 3000)
	for _, name := range []string{"a", "b", "c"} {
		if got[name] < 700 { // expected 1000; 700 is more than 10 standard deviations away
			t.Errorf("p2c gave %s %d of 3000 picks: %v", name, got[name], got)
		}
	}
}

// TestP2CPrefersCheaper: of the two sampled, the one with less in-flight ×
// latency ÷ weight wins, so the costliest of three is never picked and of
// two the cheaper always is.
func TestP2CPrefersCheaper(t *testing.T) {
	cands := buildAll([]nd{local("a", 1), local("b", 1), local("busy", 1)})
	hold(cands[2], 5)
	if got := count(P2C{}, cands, all, 1000); got["busy"] != 0 || got["a"] == 0 || got["b"] == 0 {
		t.Errorf("busy node picked or others starved: %v", got)
	}

	slow := buildAll([]nd{local("fast", 1).withLatencyMS(10), local("slow", 1).withLatencyMS(100)})
	if got := count(P2C{}, slow, all, 200); got["fast"] != 200 {
		t.Errorf("two idle nodes: %v", got)
	}
	hold(slow[0], 20) // 21 × 10ms > 1 × 100ms
	if got := count(P2C{}, slow, all, 200); got["slow"] != 200 {
		t.Errorf("loaded fast node: %v", got)
	}

	heavy := buildAll([]nd{local("w1", 1), local("w4", 1).withWeight(4)})
	hold(heavy[0], 1)
	hold(heavy[1], 3) // 4/4 < 2/1
	if got := count(P2C{}, heavy, all, 200); got["w4"] != 200 {
		t.Errorf("weights: %v", got)
	}
}

// TestP2CManyCandidates: more candidates than the stack buffer holds.
func TestP2CManyCandidates(t *testing.T) {
	var ds []nd
	for i := range 40 {
		ds = append(ds, local(fmt.Sprintf("n%d", i), 1))
	}
	cands := buildAll(ds)
	got := count(P2C{}, cands, func(n *upstream.Node) bool { return n != cands[39] }, 4000)
	if len(got) != 39 || got["n39"] != 0 {
		t.Errorf("picked %d distinct nodes (%v)", len(got), got)
	}
}

func TestLeastConn(t *testing.T) {
	cands := buildAll([]nd{local("a", 1), local("b", 1), local("c", 1)})
	hold(cands[0], 2)
	hold(cands[2], 1)
	if got := count(LeastConn{}, cands, all, 100); got["b"] != 100 {
		t.Errorf("fewest in flight: %v", got)
	}
	if got := count(LeastConn{}, cands, func(n *upstream.Node) bool { return n != cands[1] }, 100); got["c"] != 100 {
		t.Errorf("accepted only: %v", got)
	}

	weighted := buildAll([]nd{local("w1", 1), local("w4", 1).withWeight(4)})
	hold(weighted[0], 1)
	hold(weighted[1], 3) // 3/4 < 1/1
	if got := count(LeastConn{}, weighted, all, 100); got["w4"] != 100 {
		t.Errorf("per weight: %v", got)
	}

	idle := buildAll([]nd{local("a", 1), local("b", 1), local("c", 1)})
	got := count(LeastConn{}, idle, all, 3000)
	for _, name := range []string{"a", "b", "c"} {
		if got[name] < 700 {
			t.Errorf("ties: %s got %d of 3000 picks: %v", name, got[name], got)
		}
	}
}

// TestRoundRobinWeights: over every window of one full cycle (the sum of
// the weights) each node gets exactly its weight in picks.
func TestRoundRobinWeights(t *testing.T) {
	cands := buildAll([]nd{local("a", 1).withWeight(3), local("b", 1), local("c", 1).withWeight(2)})
	rr := &RoundRobin{}
	const cycle = 6
	seq := make([]string, 0, 10*cycle)
	for range 10 * cycle {
		seq = append(seq, rr.Pick(cands, all).Name)
	}
	for start := 0; start+cycle <= len(seq); start++ {
		got := map[string]int{}
		for _, n := range seq[start : start+cycle] {
			got[n]++
		}
		if got["a"] != 3 || got["b"] != 1 || got["c"] != 2 {
			t.Fatalf("picks %d..%d: %v (sequence %v)", start, start+cycle, got, seq)
		}
	}

	// Without b, the others share in proportion 3:2.
	noB := func(n *upstream.Node) bool { return n.Name != "b" }
	got := count(rr, cands, noB, 50)
	if got["a"] != 30 || got["c"] != 20 {
		t.Errorf("without b: %v", got)
	}
}

func TestBest(t *testing.T) {
	cands := buildAll([]nd{local("a", 1), local("b", 1), local("c", 1)})
	hold(cands[0], 100)
	if got := count(Best{}, cands, all, 10); got["a"] != 10 {
		t.Errorf("best ignores load: %v", got)
	}
	if n := (Best{}).Pick(cands, func(n *upstream.Node) bool { return n.Name != "a" }); n.Name != "b" {
		t.Errorf("first accepted: %s", n.Name)
	}
}

// TestPoolSpreads: through the pool, the default strategy spreads calls
// over the serving tier only.
func TestPoolSpreads(t *testing.T) {
	r := rules(5, 5, false, 0)
	r.Strategy = P2C{}
	p := NewPool(r, buildAll([]nd{local("a", 100), local("b", 100), fallback("f", 100)}))
	got := map[string]int{}
	for range 2000 {
		n := p.Pick(nil, Need{})
		got[n.Name]++
		n.Release()
	}
	if got["f"] != 0 || got["a"] < 500 || got["b"] < 500 {
		t.Errorf("picks: %v", got)
	}
}

// TestTied: costs within TieBand of the lower one, or within TieFloor, are
// equal.
func TestTied(t *testing.T) {
	ms := func(f float64) float64 { return f * 1e6 }
	tests := []struct {
		a, b float64
		want bool
	}{
		{ms(10), ms(10), true},
		{ms(10), ms(12.5), true}, // the band's edge
		{ms(10), ms(12.6), false},
		{ms(100), ms(124), true},
		{ms(100), ms(130), false},
		{ms(0.1), ms(1.1), true}, // the floor: a millisecond apart
		{ms(0.1), ms(1.2), false},
		{0, ms(1), true},
		{ms(10), ms(30), false},
	}
	for _, tt := range tests {
		if got := tied(tt.a, tt.b); got != tt.want {
			t.Errorf("tied(%v, %v) = %v, want %v", tt.a, tt.b, got, tt.want)
		}
		if got := tied(tt.b, tt.a); got != tt.want {
			t.Errorf("tied(%v, %v) = %v, want %v (not symmetric)", tt.b, tt.a, got, tt.want)
		}
	}
}

// TestP2CTies: two idle nodes whose latencies are within the band share
// the picks; out of it, the cheaper takes them all.
func TestP2CTies(t *testing.T) {
	within := buildAll([]nd{local("a", 1).withLatencyMS(10), local("b", 1).withLatencyMS(12)})
	got := count(P2C{}, within, all, 2000)
	t.Logf("10ms and 12ms: %v", got)
	for _, name := range []string{"a", "b"} {
		if got[name] < 800 { // expected 1000; 800 is 9 standard deviations away
			t.Errorf("tied nodes: %s got %d of 2000 picks", name, got[name])
		}
	}
	apart := buildAll([]nd{local("a", 1).withLatencyMS(10), local("b", 1).withLatencyMS(13)})
	if got := count(P2C{}, apart, all, 200); got["a"] != 200 {
		t.Errorf("10ms and 13ms: %v", got)
	}
	// Under load the band compares calls in flight: 4 and 5 in flight on
	// equal nodes are equal, 3 and 5 are not.
	loaded := buildAll([]nd{local("a", 1), local("b", 1)})
	hold(loaded[0], 4)
	hold(loaded[1], 3)
	if got := count(P2C{}, loaded, all, 2000); got["a"] < 800 || got["b"] < 800 {
		t.Errorf("5 and 4 in flight: %v", got)
	}
	hold(loaded[1], -1)
	if got := count(P2C{}, loaded, all, 200); got["b"] != 200 {
		t.Errorf("5 and 3 in flight: %v", got)
	}
}

// TestP2CPassOver: with one call at a time, a node three times slower than
// its peer is tried now and then (its estimate fades each time it is passed
// over idle) but gets far less; with a call in flight it is not faded.
func TestP2CPassOver(t *testing.T) {
	// Seconds, so that the estimates' fade with time during the test is
	// negligible next to the band.
	fast, slow := local("fast", 1).build(), local("slow", 1).build()
	truth := map[*upstream.Node]time.Duration{fast: time.Second, slow: 3 * time.Second}
	for n, d := range truth {
		n.ObserveAnswer(d, nil)
	}
	cands := []*upstream.Node{fast, slow}
	got := map[string]int{}
	for range 600 {
		n := P2C{}.Pick(cands, all)
		got[n.Name]++
		n.ObserveAnswer(truth[n], nil) // its answer: the estimate is set afresh
	}
	t.Logf("one call at a time, 1s and 3s: %v", got)
	if got["slow"] == 0 || got["slow"] > 150 {
		t.Errorf("the slow node got %d of 600 picks, want some and at most a quarter", got["slow"])
	}

	busy := local("busy", 1).build()
	busy.ObserveAnswer(10*time.Second, nil)
	hold(busy, 1)
	before, _ := busy.AnswerTime()
	if got := count(P2C{}, []*upstream.Node{fast, busy}, all, 200); got["busy"] != 0 {
		t.Errorf("a busy slow node was picked: %v", got)
	}
	// 200 fades would leave 0.9^200 of it; the fade with time since the
	// sample is e^-7 only after 7 seconds.
	if after, _ := busy.AnswerTime(); after < before/1000 {
		t.Errorf("a node with a call in flight was faded: %v, then %v", before, after)
	}
}
