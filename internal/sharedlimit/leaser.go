// Package sharedlimit keeps the rate limits of nodes with rate_limit.shared
// in Redis, one limit for every replica: a background loop leases tokens
// of each node's bucket a chunk at a time, and the node spends them with
// no Redis round trip on the call path (see upstream's lease.go). It also
// tells the other replicas of a node's HTTP 429 cool-down, and learns
// theirs.
//
// Keys, under the Redis prefix (admin.redis_prefix, default "evmgate:"):
//
//	<prefix>nodelimit:<network>:<node>   hash: "tat" (the bucket, GCRA, µs), "cool" (µs)
//
// While Redis cannot be reached, each node counts on its own bucket at the
// configured rate (a WARN once per outage), and the loop asks Redis again
// after Rest; the first answer makes the limits shared again.
package sharedlimit

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"

	"github.com/evmgate/evmgate/internal/upstream"
)

// Rest is how long the loop leaves Redis alone after it failed.
const Rest = time.Second

// idle is how long the loop sleeps when no node is in use: a call that
// wants tokens wakes it (Want).
const idle = time.Minute

// callTimeout bounds one lease (a dial the client retries included).
const callTimeout = 500 * time.Millisecond

// Pool is a network's nodes as the leaser sees them (balancer.Pool).
type Pool interface {
	// Nodes returns the network's nodes now.
	Nodes() []*upstream.Node
	// Wake tells the calls waiting for a node's room to look again.
	Wake()
}

// Leaser leases the tokens of every node with a shared rate limit.
type Leaser struct {
	rdb    redis.Scripter
	prefix string
	pools  func() []Pool
	log    *slog.Logger
	errs   prometheus.Counter
	kick   chan struct{}
	cancel context.CancelFunc
	wg     sync.WaitGroup

	// Loop-owned.
	restUntil int64 // upstream.Now() before which Redis is left alone
	down      bool  // the last ask failed: a WARN was logged
}

// New returns a leaser over the nodes of pools, keeping buckets in rdb
// under prefix. Start runs it.
func New(rdb redis.Scripter, prefix string, pools func() []Pool, log *slog.Logger, reg prometheus.Registerer) (*Leaser, error) {
	errs := prometheus.NewCounter(prometheus.CounterOpts{
		Name: "evmgate_node_limit_redis_errors_total",
		Help: "Leases of shared node rate limits that Redis could not answer.",
	})
	if reg != nil {
		if err := reg.Register(errs); err != nil {
			var are prometheus.AlreadyRegisteredError
			if !errors.As(err, &are) {
				return nil, err
			}
			errs = are.ExistingCollector.(prometheus.Counter)
		}
	}
	return &Leaser{rdb: rdb, prefix: prefix, pools: pools, log: log, errs: errs, kick: make(chan struct{}, 1)}, nil
}

// Want wakes the loop (upstream.Spec.WantLease): cheap, never blocks.
func (l *Leaser) Want() {
	select {
	case l.kick <- struct{}{}:
	default:
	}
}

// Start runs the loop until Close.
func (l *Leaser) Start() {
	ctx, cancel := context.WithCancel(context.Background())
	l.cancel = cancel
	l.wg.Add(1)
	go func() {
		defer l.wg.Done()
		l.run(ctx)
	}()
}

// Close stops the loop and waits for it.
func (l *Leaser) Close() {
	if l.cancel != nil {
		l.cancel()
	}
	l.wg.Wait()
}

func (l *Leaser) run(ctx context.Context) {
	timer := time.NewTimer(upstream.LeasePoll)
	defer timer.Stop()
	for {
		timer.Reset(l.pass(ctx))
		select {
		case <-ctx.Done():
			return
		case <-l.kick:
		case <-timer.C:
		}
	}
}

// pass asks Redis for every node that is due, and returns how long until
// the next is.
func (l *Leaser) pass(ctx context.Context) time.Duration {
	now := upstream.Now()
	if now < l.restUntil {
		return time.Duration(l.restUntil - now)
	}
	next := now + int64(idle)
	pools := l.pools()
	answered := false
	for _, p := range pools {
		room := false
		for _, n := range p.Nodes() {
			ask, due, at := n.LeaseDue(now)
			if !due {
				if at > 0 && at < next {
					next = at
				}
				continue
			}
			c, cancel := context.WithTimeout(ctx, callTimeout)
			a, err := take(c, l.rdb, Key(l.prefix, n.URL, n.Headers), ask)
			cancel()
			if err != nil {
				if ctx.Err() != nil {
					return 0
				}
				n.LeaseFailed(upstream.Now(), ask)
				l.failed(pools, err)
				return Rest
			}
			answered = true
			if n.Leased(upstream.Now(), a) {
				room = true
			}
		}
		if room {
			p.Wake()
		}
	}
	if l.down && answered {
		l.down = false
		l.log.Info("node rate limits are shared again: redis answers")
	}
	return max(time.Duration(next-upstream.Now()), time.Millisecond)
}

// failed moves every shared node of pools to its own bucket, wakes the
// calls that waited for a lease, and logs the outage once.
func (l *Leaser) failed(pools []Pool, err error) {
	l.errs.Inc()
	now := upstream.Now()
	l.restUntil = now + int64(Rest)
	for _, p := range pools {
		room := false
		for _, n := range p.Nodes() {
			if shared, _ := n.SharedLimit(); shared && n.LeaseFailed(now, upstream.LeaseAsk{}) {
				room = true
			}
		}
		if room {
			p.Wake()
		}
	}
	if !l.down {
		l.down = true
		l.log.Warn("node rate limits not shared: redis unreachable, each replica counts a shared node's calls on its own meanwhile",
			"err", err)
	}
}
