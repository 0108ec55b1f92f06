package balancer

import "testing"

// TestSetRules: a pool takes new rules at once, keeping its nodes.
func TestSetRules(t *testing.T) {
	t.Parallel()
	nodes := buildAll([]nd{local("a", 100).withLatencyMS(1), local("b", 100).withLatencyMS(50)})
	p := NewPool(Rules{NetworkBlockDiff: 5, Priority: []Criterion{ByLatency}, Strategy: Best{}}, nodes)
	count := func() map[string]int {
		got := map[string]int{}
		for range 20 {
			n := p.Pick(nil, Need{})
			got[n.Name]++
			n.Release()
		}
		return got
	}
	if got := count(); got["a"] != 20 {
		t.Fatalf("best: %v, want every call on a", got)
	}
	p.SetRules(Rules{NetworkBlockDiff: 5, Priority: []Criterion{ByLatency}, Strategy: &RoundRobin{}})
	if got := count(); got["a"] != 10 || got["b"] != 10 {
		t.Fatalf("round_robin after SetRules: %v, want 10 each", got)
	}
	if len(p.Nodes()) != 2 || p.Nodes()[0] != nodes[0] {
		t.Fatal("SetRules changed the nodes")
	}
}
