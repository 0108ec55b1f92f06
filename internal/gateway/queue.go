package gateway

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/evmgate/evmgate/internal/balancer"
	"github.com/evmgate/evmgate/internal/config"
	"github.com/evmgate/evmgate/internal/proxy"
	"github.com/evmgate/evmgate/internal/sched"
	"github.com/evmgate/evmgate/internal/upstream"
	"github.com/prometheus/client_golang/prometheus"
)

// queued makes a network's calls wait in its priority scheduler for a worker
// slot on the node the balancer picks.
type queued struct {
	s        *sched.Scheduler
	pool     *balancer.Pool
	log      *slog.Logger
	rejected [sched.NumClasses]prometheus.Counter
	expired  [sched.NumClasses]prometheus.Counter
	capacity atomic.Pointer[map[string]int] // queue bound by class name, for the metrics
}

var (
	_ proxy.Scheduler  = (*queued)(nil)
	_ proxy.QueueSizer = (*queued)(nil)
)

func newQueued(c config.Scheduler, network string, pool *balancer.Pool, g *Gateway) (*queued, error) {
	q := &queued{pool: pool, log: g.log.With("network", network)}
	var waits [sched.NumClasses]prometheus.Observer
	for cl := sched.Class(0); cl < sched.NumClasses; cl++ {
		waits[cl] = g.metrics.QueueWait.WithLabelValues(network, cl.String())
		q.rejected[cl] = g.metrics.QueueRejected.WithLabelValues(network, cl.String(), "queue_full")
		q.expired[cl] = g.metrics.QueueRejected.WithLabelValues(network, cl.String(), "expired")
	}
	sc := schedConfig(c)
	if err := sc.Validate(); err != nil {
		return nil, fmt.Errorf("scheduler: %w", err)
	}
	sc.OnGrant = func(cl sched.Class, waited time.Duration) { waits[cl].Observe(waited.Seconds()) }
	q.s = sched.New(sc, nil)
	q.setCapacity(sc)
	// A call waiting for a node's rate limit is granted once it has room.
	pool.OnReady(func() { q.s.Kick() })
	return q, nil
}

// schedConfig turns the scheduler section into a sched.Config.
func schedConfig(c config.Scheduler) sched.Config {
	return sched.Config{
		MaxQueued:           [sched.NumClasses]int{c.MaxQueuedFastTrack, c.MaxQueuedHigh, c.MaxQueuedLow},
		FastTrackPerHigh:    c.FastTrackPerHigh,
		DrainFastTrackFirst: c.DrainFastTrackFirst,
		LowShare:            c.LowShare,
		LowMaxWait:          c.LowMaxWait.D(),
	}
}

func (q *queued) setCapacity(sc sched.Config) {
	capacity := make(map[string]int, sched.NumClasses)
	for cl := sched.Class(0); cl < sched.NumClasses; cl++ {
		capacity[cl.String()] = cmp.Or(sc.MaxQueued[cl], sched.DefaultMaxQueued)
	}
	q.capacity.Store(&capacity)
}

// reconfigure applies a reloaded scheduler section; the calls waiting keep
// their place.
func (q *queued) reconfigure(c config.Scheduler) error {
	sc := schedConfig(c)
	if err := q.s.Reconfigure(sc); err != nil {
		return fmt.Errorf("scheduler: %w", err)
	}
	q.setCapacity(sc)
	return nil
}

// Acquire waits in the call's class for a node with a free worker slot.
func (q *queued) Acquire(ctx context.Context, class proxy.Class, retry bool, tried []*upstream.Node, need balancer.Need) (*upstream.Node, error) {
	n, _, err := q.AcquireQueued(ctx, class, retry, tried, need)
	return n, err
}

// Queued returns how many calls of the class wait now.
func (q *queued) Queued(class proxy.Class) int { return q.s.Len()[class] }

// AcquireQueued is Acquire that also returns the length of the class's
// queue the call joined (0: it did not wait).
func (q *queued) AcquireQueued(ctx context.Context, class proxy.Class, retry bool, tried []*upstream.Node, need balancer.Need) (*upstream.Node, int, error) {
	if !q.pool.HasCandidate(tried, need) {
		return nil, 0, proxy.ErrNoNode
	}
	if q.log.Enabled(ctx, slog.LevelDebug) {
		l := q.s.Len()
		q.log.LogAttrs(ctx, slog.LevelDebug, "request added to queue", slog.String("class", class.String()),
			slog.Bool("retry", retry), slog.Int("queue_fast_track", l[sched.FastTrack]),
			slog.Int("queue_high", l[sched.High]), slog.Int("queue_low", l[sched.Low]))
	}
	if wait := q.throttledWait(ctx, class, retry, tried, need); wait > 0 {
		return nil, 0, &proxy.NodesWaitingError{Wait: wait}
	}
	p := picks.Get().(*pick)
	p.ctx, p.pool, p.tried, p.need = ctx, q.pool, tried, need
	queued, err := q.s.WaitFor(ctx, class, retry, p)
	got, late := p.got, p.late
	*p = pick{}
	picks.Put(p)
	switch {
	case err == nil && got == nil:
		return nil, queued, &proxy.NodesWaitingError{Wait: late}
	case err == nil:
		return got, queued, nil
	case errors.Is(err, sched.ErrQueueFull):
		q.rejected[class].Inc()
		return nil, 0, fmt.Errorf("%w: the %s priority queue is full", proxy.ErrQueueFull, class)
	case errors.Is(err, sched.ErrExpired):
		q.expired[class].Inc()
		return nil, queued, fmt.Errorf("%w: waited for a free worker until the deadline", proxy.ErrExpired)
	}
	return nil, queued, err
}

// throttledWait is, when every node that could take the call is held back
// by its rate limit or a cool-down past the call's deadline, about how
// long until one has room: then it is answered at once rather than when
// its deadline passes. While every eligible node is held back, the calls
// queued ahead that are served before it (its class and those granted
// first; none for a retry, which goes to the front) count too, at the
// nodes' rate. 0 otherwise: the estimate is only made while a node of the
// pool has a rate limit or has cooled down.
func (q *queued) throttledWait(ctx context.Context, class proxy.Class, retry bool, tried []*upstream.Node, need balancer.Need) time.Duration {
	if !q.pool.MayThrottle() {
		return 0
	}
	dl, ok := ctx.Deadline()
	if !ok {
		return 0
	}
	wait, rate, held, all := q.pool.Throttled(tried, need)
	if !held {
		return 0
	}
	if !retry && rate > 0 && all {
		lens := q.s.Len()
		ahead := 0
		for cl := sched.Class(0); cl <= class; cl++ {
			ahead += lens[cl]
		}
		wait += time.Duration(float64(ahead) / rate * float64(time.Second))
	}
	if time.Until(dl) >= wait {
		return 0
	}
	return wait
}

// pick takes a node for a waiting call; pooled, so that waiting for a
// slot allocates nothing.
type pick struct {
	ctx   context.Context
	pool  *balancer.Pool
	tried []*upstream.Node
	need  balancer.Need
	got   *upstream.Node
	late  time.Duration // set with got nil: the call ends before a node has room
}

var picks = sync.Pool{New: func() any { return new(pick) }}

// Try implements sched.Trier. A call whose nodes all wait on their rate
// limits (or cool down) until after its deadline, none only busy, ends its
// wait at once, with no node (late set): waiting could only time it out.
func (p *pick) Try() bool {
	var why balancer.Refusal
	p.got, why = p.pool.PickOr(p.tried, p.need)
	if p.got != nil {
		return true
	}
	if why.Wait > 0 && !why.Busy {
		if dl, ok := p.ctx.Deadline(); ok && time.Until(dl) < why.Wait {
			p.late = why.Wait
			return true
		}
	}
	return false
}

// Particular implements sched.Particular: after a failed try, whether a
// node this call cannot use could take another call now.
func (p *pick) Particular() bool { return p.pool.RoomElsewhere(p.tried, p.need) }

// Release frees the node's slot and lets the next waiting call go.
func (q *queued) Release(n *upstream.Node) {
	n.Release()
	q.s.Kick()
}

// Capacity returns the queue bound per class name.
func (q *queued) Capacity() map[string]int { return *q.capacity.Load() }

// Depth returns the queue depth per class name.
func (q *queued) Depth() map[string]int {
	l := q.s.Len()
	out := make(map[string]int, len(l))
	for cl := sched.Class(0); cl < sched.NumClasses; cl++ {
		out[cl.String()] = l[cl]
	}
	return out
}

// Status returns the waiting calls and the bound of each class, in class
// order.
func (q *queued) Status() []QueueStatus {
	l, capacity := q.s.Len(), q.Capacity()
	out := make([]QueueStatus, 0, sched.NumClasses)
	for cl := sched.Class(0); cl < sched.NumClasses; cl++ {
		out = append(out, QueueStatus{Class: cl.String(), Depth: l[cl], Capacity: capacity[cl.String()]})
	}
	return out
}
