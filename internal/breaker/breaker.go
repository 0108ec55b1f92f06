package breaker

import (
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/evmgate/evmgate/internal/health"
	"github.com/evmgate/evmgate/internal/upstream"
	"github.com/sony/gobreaker/v2"
)

// Settings are a network's breaker settings.
type Settings struct {
	// Failures is the least number of failed calls in Window that opens
	// the breaker.
	Failures uint32
	// Ratio is the least share of failed calls in Window that opens it.
	Ratio float64
	// Window is the rolling window over which calls are counted.
	Window time.Duration
	// Cooldown is how long an open breaker keeps its node out before a
	// trial call.
	Cooldown time.Duration
}

// Set is the breakers of one network's nodes. Observe is safe for
// concurrent use; Close stops the cool-down timers.
type Set struct {
	network string
	set     Settings
	log     *slog.Logger
	metrics *Metrics

	nodes  sync.Map // *upstream.Node → *breaker
	closed atomic.Bool
}

// New returns the breakers of network. m may be nil.
func New(network string, set Settings, log *slog.Logger, m *Metrics) *Set {
	if log == nil {
		log = slog.Default()
	}
	return &Set{network: network, set: set, log: log, metrics: m}
}

// Observe feeds a try's outcome on n (err nil: success) to n's breaker and
// reports the call's outcome to n (upstream.Node.Settle): every call n
// admitted must reach Observe once, or EndTrial when no call went. A nil
// Set only reports the outcome to n.
//
// Only calls placed while the breaker was closed count in its window, and
// only the trial decides a half-open breaker: the outcome of a call placed
// before the breaker opened, ending while it is open or half-open, is no
// verdict (gobreaker's own rule for calls of an older generation).
func (s *Set) Observe(n *upstream.Node, err error) {
	verdict := err == nil || health.Counts(err)
	if s == nil {
		n.Settle(verdict)
		return
	}
	b := s.of(n)
	// Settling and judging under one lock: no other outcome of the node
	// opens the breaker between the gate read and the verdict.
	b.judge.Lock()
	defer b.judge.Unlock()
	switch n.Settle(verdict) {
	case upstream.GateClosed, upstream.GateTrial:
		switch {
		case err == nil:
			_, _ = b.cb.Execute(succeed)
		case verdict:
			_, _ = b.cb.Execute(func() (struct{}, error) { return struct{}{}, err })
		}
	}
}

func succeed() (struct{}, error) { return struct{}{}, nil }

// Close stops the cool-down timers and closes every node's gate: the set
// is replaced (a reload) or the gateway stops, and no breaker of it will
// let a node back in.
func (s *Set) Close() {
	if s == nil {
		return
	}
	s.closed.Store(true)
	s.Forget(nil)
}

// Forget drops the breakers of nodes not in keep (nodes removed from the
// network), closing their gates. A nil Set does nothing.
func (s *Set) Forget(keep []*upstream.Node) {
	if s == nil {
		return
	}
	in := make(map[*upstream.Node]bool, len(keep))
	for _, n := range keep {
		in[n] = true
	}
	s.nodes.Range(func(k, v any) bool {
		if n := k.(*upstream.Node); !in[n] {
			b := v.(*breaker)
			b.mu.Lock()
			if b.timer != nil {
				b.timer.Stop()
			}
			b.mu.Unlock()
			s.nodes.Delete(n)
			n.SetGate(upstream.GateClosed)
		}
		return true
	})
}

// breaker is one node's.
type breaker struct {
	s     *Set
	node  *upstream.Node
	cb    *gobreaker.CircuitBreaker[struct{}]
	judge sync.Mutex // judge serialises Observe's outcomes on the node
	mu    sync.Mutex // mu protects timer
	timer *time.Timer
}

func (s *Set) of(n *upstream.Node) *breaker {
	if b, ok := s.nodes.Load(n); ok {
		return b.(*breaker)
	}
	b := &breaker{s: s, node: n}
	set := s.set
	bucket := max(set.Window/10, time.Millisecond)
	b.cb = gobreaker.NewCircuitBreaker[struct{}](gobreaker.Settings{
		Name:         n.Name,
		MaxRequests:  1,
		Interval:     set.Window,
		BucketPeriod: bucket,
		Timeout:      set.Cooldown,
		ReadyToTrip: func(c gobreaker.Counts) bool {
			return c.TotalFailures >= set.Failures && float64(c.TotalFailures) >= set.Ratio*float64(c.Requests)
		},
		OnStateChange: b.changed,
	})
	actual, _ := s.nodes.LoadOrStore(n, b)
	return actual.(*breaker)
}

// changed mirrors a transition on the node; gobreaker calls it with its
// own lock held, so it must not call back into cb.
func (b *breaker) changed(_ string, _, to gobreaker.State) {
	if b.s.closed.Load() {
		b.node.SetGate(upstream.GateClosed) // a retired set lets nodes be
		return
	}
	var g upstream.Gate
	switch to {
	case gobreaker.StateOpen:
		g = upstream.GateOpen
		b.startCooldown()
		b.s.log.Warn("circuit breaker opened", "node", b.node.Name, "cooldown", b.s.set.Cooldown)
	case gobreaker.StateHalfOpen:
		g = upstream.GateHalfOpen
		b.s.log.Info("circuit breaker half-open: next call is a trial", "node", b.node.Name)
	default:
		g = upstream.GateClosed
		b.s.log.Info("circuit breaker closed", "node", b.node.Name)
	}
	b.node.SetGate(g)
	b.s.metrics.transition(b.s.network, b.node.Name, g)
}

// startCooldown ends the open state when the cool-down passes, even if no
// call asks for the node: reading the state lets gobreaker move to
// half-open.
func (b *breaker) startCooldown() {
	if b.s.closed.Load() {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.timer != nil {
		b.timer.Stop()
	}
	// A little past the cool-down: gobreaker compares its expiry with the
	// clock strictly.
	b.timer = time.AfterFunc(b.s.set.Cooldown+time.Millisecond, func() { b.cb.State() })
}
