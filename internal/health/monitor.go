package health

import (
	"context"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/evmgate/evmgate/internal/balancer"
	"github.com/evmgate/evmgate/internal/upstream"
)

// Settings are a network's probing settings.
type Settings struct {
	Network        string
	ChainID        uint64 // 0: the id most nodes report
	LocalInterval  time.Duration
	OtherInterval  time.Duration // monitoring and fallback nodes
	Timeout        time.Duration
	DownAfter      int
	MaxBlockAge    time.Duration
	UseLoadTracker bool
	LoadPeriod     int
}

// Events receives what the monitor sees, for logs and metrics.
type Events interface {
	ProbeFailed(n *upstream.Node, err error)
	StateChanged(n *upstream.Node, from, to upstream.State, reason string)
}

// Monitor probes one network's nodes.
type Monitor struct {
	set    Settings
	pool   *balancer.Pool
	log    *slog.Logger
	events Events

	mu         sync.Mutex // mu protects probers, chainIDs, chainAsked and started
	probers    map[*upstream.Node]*prober
	chainIDs   map[*upstream.Node]uint64
	chainAsked map[*upstream.Node]time.Time // when each node's chain id was last read
	started    bool                         // the first round is done: a node added later is probed at once
	ctx        context.Context
	cancel     context.CancelFunc
	wg         sync.WaitGroup

	fin   finality    // the nodes' and the network's finalized block
	state stateProbes // when each node's old state was last probed

	// chain is the network's chain id as ExpectedChainID judges it, kept
	// for readers on the request path (ChainID); 0 while unknown.
	chain atomic.Uint64
}

type prober struct {
	cancel context.CancelFunc
	kick   chan struct{}
}

// New returns a monitor for the pool's network. Start begins probing.
func New(set Settings, pool *balancer.Pool, log *slog.Logger, events Events) *Monitor {
	if set.DownAfter <= 0 {
		set.DownAfter = 3
	}
	ctx, cancel := context.WithCancel(context.Background())
	m := &Monitor{set: set, pool: pool, log: log, events: events, probers: map[*upstream.Node]*prober{},
		chainIDs: map[*upstream.Node]uint64{}, chainAsked: map[*upstream.Node]time.Time{}, ctx: ctx, cancel: cancel}
	m.chain.Store(set.ChainID)
	return m
}

// Start probes every node of the pool now and then at its interval. It
// returns after the first round of probes has finished (or ctx ended), so a
// gateway starts with known heads.
func (m *Monitor) Start(ctx context.Context) {
	m.Sync()
	// Every node's chain id first, so that the network's id is judged on
	// all answers before any node is probed: a node on another chain that
	// answers first must not pass as the network's.
	m.each(func(n *upstream.Node) {
		cctx, cancel := context.WithTimeout(upstream.AsProbe(ctx), m.set.Timeout)
		defer cancel()
		_ = m.checkChain(cctx, n) // a failure shows in the probe, which asks again
	})
	m.each(func(n *upstream.Node) { m.probe(ctx, n) })
	m.pool.Refresh()
	m.mu.Lock()
	m.started = true
	m.mu.Unlock()
}

// each runs fn for every node of the pool at once and waits for them.
func (m *Monitor) each(fn func(n *upstream.Node)) {
	var wg sync.WaitGroup
	for _, n := range m.pool.Nodes() {
		wg.Add(1)
		go func() { defer wg.Done(); fn(n) }()
	}
	wg.Wait()
}

// Sync starts probers for new nodes of the pool and stops those of removed
// ones. Call it after the pool's node set changed.
func (m *Monitor) Sync() {
	nodes := m.pool.Nodes()
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.ctx.Err() != nil {
		return
	}
	for n, p := range m.probers {
		if !slices.Contains(nodes, n) {
			p.cancel()
			delete(m.probers, n)
			delete(m.chainIDs, n)
			delete(m.chainAsked, n)
			m.chain.Store(m.expectedChainLocked())
			m.fin.forget(n)
			m.forgetState(n)
		}
	}
	for _, n := range nodes {
		if _, ok := m.probers[n]; ok {
			continue
		}
		ctx, cancel := context.WithCancel(m.ctx)
		p := &prober{cancel: cancel, kick: make(chan struct{}, 1)}
		if m.started {
			p.kick <- struct{}{} // a node added at run time is probed now, not one interval later
		}
		m.probers[n] = p
		m.wg.Add(1)
		go m.run(ctx, n, p)
	}
}

// Close stops every prober and waits for them.
func (m *Monitor) Close() {
	m.mu.Lock()
	m.cancel()
	m.mu.Unlock()
	m.wg.Wait()
}

// ProbeSoon asks for an immediate probe of n.
func (m *Monitor) ProbeSoon(n *upstream.Node) {
	m.mu.Lock()
	p := m.probers[n]
	m.mu.Unlock()
	if p != nil {
		select {
		case p.kick <- struct{}{}:
		default:
		}
	}
}

func (m *Monitor) interval(n *upstream.Node) time.Duration {
	if n.Tier == upstream.Local || m.set.OtherInterval <= 0 {
		return m.set.LocalInterval
	}
	return m.set.OtherInterval
}

func (m *Monitor) run(ctx context.Context, n *upstream.Node, p *prober) {
	defer m.wg.Done()
	t := time.NewTicker(m.interval(n))
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-p.kick:
		}
		m.probe(ctx, n)
		m.pool.Refresh()
	}
}

func (m *Monitor) setState(n *upstream.Node, to upstream.State, reason string) {
	n.SetReason(reason)
	from := n.State()
	if n.SetState(to) && m.events != nil {
		m.events.StateChanged(n, from, to, reason)
	}
}
