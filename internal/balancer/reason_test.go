package balancer

import (
	"math/rand/v2"
	"testing"

	"github.com/evmgate/evmgate/internal/upstream"
)

func TestReason(t *testing.T) {
	wrong := local("wrong", -1).withState(upstream.WrongChain).build()
	wrong.SetChainID(5)
	nodes := []*upstream.Node{
		local("a", 100).build(),
		local("b", 98).build(),
		local("behind", 90).build(),
		local("one", 100).build(),
		monitoring("backup", 100).build(),
		fallback("fb-ok", 95).build(),
		fallback("fb-behind", 80).build(),
		local("down", -1).withState(upstream.Down).build(),
		local("syncing", 100).withState(upstream.Syncing).build(),
		local("stale", 100).withState(upstream.Stale).build(),
		unknownNode("new", upstream.Local),
		wrong,
	}
	// "ahead" leads every other node by more than the outlier window: no
	// other head confirms it.
	ahead := local("ahead", 300).build()
	nodes = append(nodes, ahead)
	p := NewPool(rules(2, 10, false, 0), nodes)
	want := map[string]string{
		"a": "", "b": "", "one": "", "backup": "", "fb-ok": "",
		"behind":    "lagging 10 blocks (network_block_diff 2)",
		"fb-behind": "lagging 20 blocks (fallback_block_diff 10)",
		"down":      "down",
		"syncing":   "syncing",
		"stale":     "stale",
		"new":       "not probed yet",
		"wrong":     "wrong chain (chain id 5)",
		"ahead":     "ahead of the confirmed head by 200 blocks",
	}
	v := p.View()
	if v.Head != 100 {
		t.Fatalf("head %d, want 100", v.Head)
	}
	for _, n := range nodes {
		if got := p.Reason(v, n); got != want[n.Name] {
			t.Errorf("%s: Reason = %q, want %q", n.Name, got, want[n.Name])
		}
	}
}

// TestReasonMatchesEligibility: a node has a reason exactly when the view
// leaves it out, whatever the nodes and rules.
func TestReasonMatchesEligibility(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	states := []upstream.State{upstream.Up, upstream.Up, upstream.Up, upstream.Down, upstream.Syncing, upstream.Stale, upstream.WrongChain}
	for range 2000 {
		ds := make([]nd, 1+rng.IntN(6))
		for i := range ds {
			head := int64(100 + rng.IntN(30) - 15)
			if rng.IntN(8) == 0 {
				head = -1
			}
			ds[i] = nd{name: string(rune('a' + i)), tier: upstream.Tier(rng.IntN(3)), head: head, state: states[rng.IntN(len(states))]}
		}
		r := rules(uint64(rng.IntN(6)), uint64(rng.IntN(12)), rng.IntN(2) == 0, uint64(rng.IntN(8)))
		p := NewPool(r, buildAll(ds))
		v := p.View()
		for _, n := range v.All {
			if got := p.Reason(v, n); (got == "") != v.Eligible(n) {
				t.Fatalf("%s (state %s, head %d, tier %s; network head %d): eligible %v but reason %q",
					n.Name, n.State(), n.Head(), n.Tier, v.Head, v.Eligible(n), got)
			}
		}
	}
}
