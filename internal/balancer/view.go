package balancer

import (
	"cmp"
	"slices"

	"github.com/evmgate/evmgate/internal/upstream"
)

// buildView computes eligibility, the serving tier and candidate order.
func buildView(r Rules, nodes []*upstream.Node) *View {
	v := &View{All: nodes}
	for _, n := range nodes {
		v.methodLists = v.methodLists || n.Methods != nil
	}
	heads := make([]uint64, 0, len(nodes))
	for _, n := range nodes {
		if n.State() == upstream.Up && n.HasHead() {
			heads = append(heads, n.Head())
		}
	}
	v.Head = NetworkHead(heads, r.outlierWindow())

	var tiers [3][]*upstream.Node
	for _, n := range nodes {
		if eligible(r, v.Head, n) {
			tiers[n.Tier] = append(tiers[n.Tier], n)
		}
	}
	for i := range tiers {
		sortByPriority(tiers[i], r.Priority)
	}
	order := []upstream.Tier{upstream.Local, upstream.Monitoring, upstream.Fallback}
	if r.SwitchToFallback && localsBehind(r, v.Head, nodes) && len(tiers[upstream.Fallback]) > 0 {
		order = []upstream.Tier{upstream.Fallback, upstream.Local, upstream.Monitoring}
	}
	for _, t := range order {
		if len(v.Active) == 0 && len(tiers[t]) > 0 {
			v.Active, v.Serving = tiers[t], t
			continue
		}
		v.Backup = append(v.Backup, tiers[t]...)
	}
	for _, n := range nodes {
		// A node on another chain, one that failed attestation, or one
		// whose circuit breaker is open, is never tried, not even when
		// nothing else answers.
		if st := n.State(); st != upstream.WrongChain && st != upstream.Unattested && n.Gate() != upstream.GateOpen && !slices.Contains(v.Active, n) && !slices.Contains(v.Backup, n) {
			v.Rest = append(v.Rest, n)
		}
	}
	slices.SortStableFunc(v.Rest, func(a, b *upstream.Node) int {
		if c := cmp.Compare(restRank(r, v.Head, a), restRank(r, v.Head, b)); c != 0 {
			return c
		}
		return cmp.Compare(b.Head(), a.Head())
	})
	return v
}

// restRank orders fail-open candidates: answering nodes before unknown ones,
// unknown before down ones. A node whose head is ahead of the network head
// by more than network_block_diff (an unconfirmed outlier) answers, but what
// it says is suspect: it comes after every other answering node.
func restRank(r Rules, head uint64, n *upstream.Node) int {
	switch n.State() {
	case upstream.Up, upstream.Stale, upstream.Syncing:
		if n.HasHead() && n.Head() > head && n.Head()-head > r.NetworkBlockDiff {
			return 1
		}
		return 0
	case upstream.Unknown:
		return 2
	}
	return 3
}

func eligible(r Rules, head uint64, n *upstream.Node) bool {
	if n.State() != upstream.Up || !n.HasHead() || n.Gate() == upstream.GateOpen {
		return false
	}
	h := n.Head()
	if h > head {
		return h-head <= r.NetworkBlockDiff // further ahead: an unconfirmed outlier
	}
	diff := r.NetworkBlockDiff
	if n.Tier == upstream.Fallback {
		diff = r.FallbackBlockDiff
	}
	return head-h <= diff
}

// localsBehind reports whether every local node is more than the switch
// threshold behind the network head (a down local node counts as behind).
func localsBehind(r Rules, head uint64, nodes []*upstream.Node) bool {
	any := false
	for _, n := range nodes {
		if n.Tier != upstream.Local {
			continue
		}
		any = true
		if h := n.Head(); n.State() == upstream.Up && n.HasHead() && (h >= head || head-h <= r.SwitchThreshold) {
			return false
		}
	}
	return any
}

func sortByPriority(nodes []*upstream.Node, prio []Criterion) {
	slices.SortStableFunc(nodes, func(a, b *upstream.Node) int {
		for _, c := range prio {
			var d int
			switch c {
			case ByChainhead:
				d = cmp.Compare(b.Head(), a.Head())
			case ByLatency:
				d = cmp.Compare(a.Latency(), b.Latency())
			case ByLoad:
				d = cmp.Compare(a.Load(), b.Load())
			}
			if d != 0 {
				return d
			}
		}
		return 0
	})
}

// NetworkHead returns the highest head that another head confirms within
// tolerance. One head is its own confirmation; when nothing is confirmed the
// lower median is taken, so a single liar can never raise the network head.
func NetworkHead(heads []uint64, tolerance uint64) uint64 {
	switch len(heads) {
	case 0:
		return 0
	case 1:
		return heads[0]
	}
	s := slices.Clone(heads)
	slices.SortFunc(s, func(a, b uint64) int { return cmp.Compare(b, a) })
	for i := 0; i+1 < len(s); i++ {
		if s[i]-s[i+1] <= tolerance {
			return s[i]
		}
	}
	return s[len(s)/2]
}
