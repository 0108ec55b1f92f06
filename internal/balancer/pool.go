package balancer

import (
	"math"
	"slices"
	"sync"
	"sync/atomic"
	"time"

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
	// OutlierBlockDiff is how far above every other node a head must be to
	// be ignored as a lie when taking the network head. 0: twice the largest
	// of the three block settings above, and at least
	// DefaultOutlierBlockDiff.
	OutlierBlockDiff uint64
}

// DefaultOutlierBlockDiff is the least outlier window: a head that leads
// every other node by fewer blocks is taken as the network head.
const DefaultOutlierBlockDiff = 64

// outlierWindow is the tolerance within which a head must be confirmed by
// another node to count as the network head. It is wider than every lag the
// rules treat as normal, so a node that is merely ahead of lagging nodes
// (a fallback at the tip while every local node is 11 blocks behind) sets
// the head, while a node claiming a height far beyond all others does not.
func (r Rules) outlierWindow() uint64 {
	if r.OutlierBlockDiff > 0 {
		return r.OutlierBlockDiff
	}
	w := max(r.NetworkBlockDiff, r.FallbackBlockDiff, r.SwitchThreshold)
	if w > math.MaxUint64/2 {
		return w
	}
	return max(2*w, DefaultOutlierBlockDiff)
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

	strategy    Strategy // the rules' strategy when the view was built
	methodLists bool     // a node has methods lists
}

// Eligible reports whether n is among the active or backup nodes.
func (v *View) Eligible(n *upstream.Node) bool {
	return slices.Contains(v.Active, n) || slices.Contains(v.Backup, n)
}

// Pool is one network's node set and selection.
type Pool struct {
	mu    sync.Mutex // mu protects rules and nodes, and serialises rebuilds
	rules Rules
	nodes []*upstream.Node
	view  atomic.Pointer[View]
	wake  wakeup
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
	v := buildView(p.rules, p.nodes)
	v.strategy = p.rules.Strategy
	p.view.Store(v)
}

// SetRules replaces the selection rules (a configuration reload). Calls
// picking a node at that moment use either the old rules or the new ones.
func (p *Pool) SetRules(rules Rules) {
	if rules.Strategy == nil {
		rules.Strategy = P2C{}
	}
	p.mu.Lock()
	p.rules = rules
	p.mu.Unlock()
	p.Refresh()
}

// Pick chooses a node for a call. tried lists nodes already tried for this
// call (they are avoided); need holds the call's routing constraints (see
// Need). The chosen node's worker slot is
// taken: the caller must Release it, and the call is counted in the node's
// recent calls (its share in the status report). nil means no node can take
// the call now.
// Pick takes no lock and, with the built-in strategies, allocates nothing.
func (p *Pool) Pick(tried []*upstream.Node, need Need) *upstream.Node {
	n, _ := p.PickOr(tried, need)
	return n
}

// Refusal says why Pick found no node for a call.
type Refusal struct {
	// Wait is how long until a node that meets the call's need may take
	// it by its rate limit or cool-down (0: no such node waits on one).
	Wait time.Duration
	// Busy: a node that meets the need has no free worker now; one frees
	// when a call ends.
	Busy bool
}

// PickOr is Pick that also says, when it finds no node, why.
func (p *Pool) PickOr(tried []*upstream.Node, need Need) (*upstream.Node, Refusal) {
	v := p.view.Load()
	need = need.adjust(v, tried)
	now := upstream.Now() // once per pick: on some hosts a clock read costs 100ns
	var why Refusal
	for {
		n := p.pick(v, tried, need, now, &why)
		if n == nil && need.soft() {
			var dropped bool
			if need, dropped = need.relax(v, tried); dropped {
				continue
			}
		}
		if n == nil && why.Wait > 0 {
			p.wake.after(why.Wait)
		}
		return n, why
	}
}

// MayThrottle reports whether a node of the pool has a rate limit or has
// cooled down after a rate limit answer: a cheap test (no clock read)
// before Throttled.
func (p *Pool) MayThrottle() bool {
	for _, n := range p.view.Load().All {
		if n.MayHold() {
			return true
		}
	}
	return false
}

// Throttled reports whether every eligible node not in tried that meets
// need is held back by its rate limit or a cool-down, none free nor merely
// busy; then wait is how long until the first has room, rate the calls a
// second their rate limits allow between them (0 when one is held only by
// a cool-down), and all whether every other eligible node is held back
// too (the calls queued ahead can then only go through these).
func (p *Pool) Throttled(tried []*upstream.Node, need Need) (wait time.Duration, rate float64, held, all bool) {
	v := p.view.Load()
	need = need.adjust(v, tried)
	now := upstream.Now()
	all = true
	for _, set := range [2][]*upstream.Node{v.Active, v.Backup} {
		for _, n := range set {
			if !need.fits(n) || slices.Contains(tried, n) {
				all = all && n.Wait(now, 1) > 0
				continue
			}
			d := n.Wait(now, need.calls())
			if d == 0 {
				return 0, 0, false, false
			}
			if !held || d < wait {
				wait = d
			}
			held = true
			r, _ := n.RateLimited()
			if r == 0 {
				rate = -1 // a node held only by a cool-down: no rate to queue by
			} else if rate >= 0 {
				rate += r
			}
		}
	}
	return wait, max(rate, 0), held, all
}

// RoomElsewhere reports whether an eligible node that does not meet need
// (or was tried) could take another call now: a free worker, and neither
// at its rate limit nor cooling down. A call Pick refused while one can
// waits for a node of its own, and the calls behind it may take that room.
// When none can, the pool is woken (OnReady) once the first eligible node
// with a free worker has room by its rate limit: the calls behind may fit
// it.
func (p *Pool) RoomElsewhere(tried []*upstream.Node, need Need) bool {
	v := p.view.Load()
	need = need.adjust(v, tried)
	now := upstream.Now()
	var soonest time.Duration
	for _, set := range [2][]*upstream.Node{v.Active, v.Backup} {
		for _, n := range set {
			if !n.HasFreeSlot() {
				continue
			}
			if d := n.Wait(now, 1); d > 0 {
				if soonest == 0 || d < soonest {
					soonest = d
				}
				continue
			}
			if !need.fits(n) || slices.Contains(tried, n) {
				return true
			}
		}
	}
	if soonest > 0 {
		p.wake.after(soonest)
	}
	return false
}

// OnReady sets the function called when a node that was passed over for
// its rate limit, or while it cooled down after a rate limit answer, may
// take calls again (the scheduler's Kick): nothing else tells a waiting
// call that time has passed.
func (p *Pool) OnReady(fn func()) {
	p.wake.mu.Lock()
	p.wake.fn = fn
	p.wake.mu.Unlock()
}

// Wake calls the OnReady function now: a node passed over for its rate
// limit may take calls again before the time its Wait gave (the tokens of
// its shared rate limit arrived).
func (p *Pool) Wake() {
	p.wake.mu.Lock()
	fn := p.wake.fn
	p.wake.mu.Unlock()
	if fn != nil {
		fn()
	}
}

// AnyServes reports whether an eligible node other than except and not in
// tried serves method (see Need.Method).
func (p *Pool) AnyServes(method string, tried []*upstream.Node, except *upstream.Node) bool {
	v := p.view.Load()
	for _, set := range [2][]*upstream.Node{v.Active, v.Backup} {
		for _, n := range set {
			if n != except && n.Serves(method) && !slices.Contains(tried, n) {
				return true
			}
		}
	}
	return false
}

// HasMethodLists reports whether a node of the pool has methods lists.
func (p *Pool) HasMethodLists() bool { return p.view.Load().methodLists }

// Admits reports whether some node of the pool, in any state, admits
// method by its methods lists, or the pool has no node: a call that every
// node's lists refuse has nowhere to go.
func (p *Pool) Admits(method string) bool {
	v := p.view.Load()
	if !v.methodLists {
		return true // every node admits every method
	}
	for _, n := range v.All {
		if n.Admits(method) {
			return true
		}
	}
	return false
}

// pick takes a slot on the best node meeting need, serving tier first,
// then the backup tiers. A node out of rotation is picked only when no
// eligible node left untried meets need: while one does but is busy, the
// call waits for it rather than go to a node that is down or lagging.
func (p *Pool) pick(v *View, tried []*upstream.Node, need Need, now int64, why *Refusal) *upstream.Node {
	ok := func(n *upstream.Node) bool { return accepts(n, tried, need, now, why) }
	asked := tried // tried grows below by the nodes whose last slot was lost
	failOpen := -1 // unknown until the eligible nodes have no free slot
	for {
		n := p.pickActive(v.strategy, v.Active, ok, tried, need, now)
		if n == nil {
			n = Best{}.Pick(v.Backup, ok)
		}
		if n == nil && failOpen < 0 {
			failOpen = 0
			if !anyFits(v, asked, need) {
				failOpen = 1
			}
		}
		if n == nil && failOpen == 1 {
			n = Best{}.Pick(v.Rest, ok)
		}
		if n == nil {
			return nil
		}
		if n.TryAcquireCalls(now, need.calls()) {
			n.CountCall(now)
			return n
		}
		// Lost the last slot to another call: look again without it.
		tried = append(tried[:len(tried):len(tried)], n)
	}
}

// pickActive runs the strategy over the serving tier. The built-in
// strategies are called on their concrete types, so ok stays on the stack;
// another Strategy gets a predicate of its own.
func (p *Pool) pickActive(st Strategy, active []*upstream.Node, ok func(*upstream.Node) bool, tried []*upstream.Node, need Need, now int64) *upstream.Node {
	switch s := st.(type) {
	case P2C:
		return s.pick(active, ok, now)
	case LeastConn:
		return s.Pick(active, ok)
	case *RoundRobin:
		return s.Pick(active, ok)
	case Best:
		return s.Pick(active, ok)
	}
	t := slices.Clone(tried)
	why := new(Refusal)
	return st.Pick(active, func(n *upstream.Node) bool { return accepts(n, t, need, now, why) })
}

// accepts reports whether n can take a call now. When it cannot only for
// want of a free worker, or for its rate limit (or a rate limit answer's
// cool-down), why says so: Busy, or Wait lowered to when it can, if sooner.
func accepts(n *upstream.Node, tried []*upstream.Node, need Need, now int64, why *Refusal) bool {
	if !n.HasFreeSlot() {
		if !why.Busy && need.fits(n) && !slices.Contains(tried, n) {
			why.Busy = true
		}
		return false
	}
	if !need.fits(n) || slices.Contains(tried, n) {
		return false
	}
	if !n.MayWait(now) {
		return true
	}
	if d := n.Wait(now, need.calls()); d > 0 {
		if why.Wait == 0 || d < why.Wait {
			why.Wait = d
		}
		return false
	}
	return true
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

// wakeup calls fn once the soonest of the waits it was given has passed.
type wakeup struct {
	mu    sync.Mutex
	fn    func()
	timer *time.Timer
	at    int64 // upstream.Now() the timer fires at; 0: not armed
}

// after arms the timer to fire d from now, unless it fires sooner already.
func (w *wakeup) after(d time.Duration) {
	at := upstream.Now() + int64(d)
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.fn == nil || w.at != 0 && w.at <= at {
		return
	}
	w.at = at
	if w.timer == nil {
		w.timer = time.AfterFunc(d, w.fire)
		return
	}
	w.timer.Reset(d)
}

func (w *wakeup) fire() {
	w.mu.Lock()
	w.at = 0
	fn := w.fn
	w.mu.Unlock()
	fn()
}
