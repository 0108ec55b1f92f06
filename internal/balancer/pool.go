package balancer

import (
	"slices"
	"sync"
	"sync/atomic"

	"github.com/evmgate/evmgate/internal/upstream"
)

// Criterion is one entry of load_balance_priority.
type Criterion uint8

const (
	ByChainhead Criterion = iota
	ByLatency
	ByLoad
)

// Rules are a network's selection settings.
type Rules struct {
	NetworkBlockDiff  uint64
	FallbackBlockDiff uint64
	SwitchToFallback  bool
	SwitchThreshold   uint64
	Priority          []Criterion
	Strategy          Strategy
}

// View is an immutable picture of a network's nodes, rebuilt on change.
type View struct {
	// Head is the robust network head (0 when no node is known).
	Head uint64
	// Serving is the tier that serves first.
	Serving upstream.Tier
	// Active are the eligible nodes of the serving tier, in priority order.
	Active []*upstream.Node
	// Backup are the eligible nodes of the other tiers, in tier and priority order.
	Backup []*upstream.Node
	// Rest are every other node not on the wrong chain, best head first:
	// tried only when no eligible node can take the call (fail open).
	Rest []*upstream.Node
	// All is every node of the network, in configuration order.
	All []*upstream.Node
}

// Eligible reports whether n is among the active or backup nodes.
func (v *View) Eligible(n *upstream.Node) bool {
	return slices.Contains(v.Active, n) || slices.Contains(v.Backup, n)
}

// Pool is one network's node set and selection.
type Pool struct {
	rules Rules

	mu    sync.Mutex // mu protects nodes and serialises rebuilds
	nodes []*upstream.Node
	view  atomic.Pointer[View]
}

// NewPool returns a pool over nodes.
func NewPool(rules Rules, nodes []*upstream.Node) *Pool {
	if rules.Strategy == nil {
		rules.Strategy = P2C{}
	}
	p := &Pool{rules: rules}
	p.SetNodes(nodes)
	return p
}

// SetNodes replaces the node set (admin changes, registry updates).
func (p *Pool) SetNodes(nodes []*upstream.Node) {
	p.mu.Lock()
	p.nodes = slices.Clone(nodes)
	p.mu.Unlock()
	for _, n := range nodes {
		n.OnChange(p.Refresh)
	}
	p.Refresh()
}

// Nodes returns the current node set.
func (p *Pool) Nodes() []*upstream.Node { return p.View().All }

// View returns the current view.
func (p *Pool) View() *View { return p.view.Load() }

// Refresh rebuilds the view from the nodes' live state.
func (p *Pool) Refresh() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.view.Store(buildView(p.rules, p.nodes))
}

// Pick chooses a node for a call. tried lists nodes already tried for this
// call (they are avoided); minHead, when not 0, skips nodes whose head is
// below it (the call names that block). The chosen node's worker slot is
// taken: the caller must Release it. nil means no node can take the call now.
func (p *Pool) Pick(tried []*upstream.Node, minHead uint64) *upstream.Node {
	v := p.view.Load()
	if minHead > v.Head {
		minHead = 0 // a block beyond the network head: any node answers the same
	}
	ok := func(n *upstream.Node) bool {
		return n.HasFreeSlot() && (minHead == 0 || n.Head() >= minHead) && !slices.Contains(tried, n)
	}
	for {
		n := p.rules.Strategy.Pick(v.Active, ok)
		if n == nil {
			n = Best{}.Pick(v.Backup, ok)
		}
		if n == nil {
			n = Best{}.Pick(v.Rest, ok)
		}
		if n == nil {
			return nil
		}
		if n.TryAcquire() {
			return n
		}
		// Lost the last slot to another call: look again without it.
		tried = append(tried[:len(tried):len(tried)], n)
	}
}

// CanPick reports whether Pick would find a node with a free slot,
// without taking one.
func (p *Pool) CanPick(tried []*upstream.Node) bool {
	v := p.view.Load()
	for _, set := range [][]*upstream.Node{v.Active, v.Backup, v.Rest} {
		for _, n := range set {
			if n.HasFreeSlot() && !slices.Contains(tried, n) {
				return true
			}
		}
	}
	return false
}
