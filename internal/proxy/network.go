package proxy

import (
	"context"
	"time"

	"github.com/evmgate/evmgate/internal/balancer"
	"github.com/evmgate/evmgate/internal/cache"
	"github.com/evmgate/evmgate/internal/consistent"
	"github.com/evmgate/evmgate/internal/hedge"
	"github.com/evmgate/evmgate/internal/jsonrpc"
	"github.com/evmgate/evmgate/internal/logsplit"
	"github.com/evmgate/evmgate/internal/methodset"
	"github.com/evmgate/evmgate/internal/sched"
	"github.com/evmgate/evmgate/internal/upstream"
	"github.com/prometheus/client_golang/prometheus"
)

// Observer receives request outcomes on nodes (passive health).
type Observer interface {
	Observe(n *upstream.Node, err error)
}

// Scheduler grants a call a worker slot on a node in priority order.
type Scheduler interface {
	// Acquire waits for a node for the call and returns it with a slot held.
	Acquire(ctx context.Context, class Class, retry bool, tried []*upstream.Node, need balancer.Need) (*upstream.Node, error)
	// Release returns the node's slot and lets waiting calls go.
	Release(n *upstream.Node)
}

// Class is a call's priority class.
type Class = sched.Class

// The priority classes.
const (
	FastTrack = sched.FastTrack
	High      = sched.High
	Low       = sched.Low
)

// Network is what the handler needs of one network.
type Network struct {
	Name       string
	Pool       *balancer.Pool
	Health     Observer
	Sched      Scheduler // nil: no queueing, nodes are picked directly
	Retries    int
	TryTimeout time.Duration
	// MethodTimeouts give methods their own TryTimeout (method_timeouts);
	// nil: none.
	MethodTimeouts *methodset.Longest[time.Duration]
	// Paths are more paths served as this network, the way
	// prio-load-balancer serves POST / and POST /sim (see prio.go).
	Paths []string
	Cache *cache.Network // nil: no response cache nor in-flight dedup
	// Logs bounds and splits eth_getLogs ranges (nil: calls pass whole).
	Logs *logsplit.Splitter
	// Hedge, when set, sends a second copy of a slow read to another node.
	Hedge *hedge.Policy
	// Consistent keeps each named client's reads consistent; nil: off.
	Consistent *consistent.Tracker
	// Broadcast sends a transaction a node accepted (eth_sendRawTransaction,
	// a single call) to the network's other nodes too (broadcast.go).
	Broadcast bool

	sizer QueueSizer // Sched, when it reports queue lengths

	requests prometheus.Counter
	duration prometheus.Observer
}

// direct picks a node without queueing.
type direct struct{ pool *balancer.Pool }

func (d direct) Acquire(_ context.Context, _ Class, _ bool, tried []*upstream.Node, need balancer.Need) (*upstream.Node, error) {
	if n := d.pool.Pick(tried, need); n != nil {
		return n, nil
	}
	return nil, ErrNoNode
}

func (d direct) Release(n *upstream.Node) { n.Release() }

// timeouts returns the timeout of one try of calls on n (TryTimeout, or
// the longest of their method_timeouts entries, when one has an entry)
// and the longest entry among them (0: none has one).
func (n *Network) timeouts(calls []jsonrpc.Call) (try, method time.Duration) {
	if n.MethodTimeouts == nil {
		return n.TryTimeout, 0
	}
	without := false // a call without an entry, given rpc_timeout
	for i := range calls {
		if d, ok := n.MethodTimeouts.Lookup(calls[i].Method); ok {
			method = max(method, d)
		} else {
			without = true
		}
	}
	switch {
	case method == 0:
		return n.TryTimeout, 0
	case without:
		return max(method, n.TryTimeout), method
	}
	return method, method
}

// TryTimeoutOf is the timeout of one try of method on n.
func (n *Network) TryTimeoutOf(method string) time.Duration {
	if d, ok := n.MethodTimeouts.Lookup(method); ok {
		return d
	}
	return n.TryTimeout
}
