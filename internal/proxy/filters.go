package proxy

import (
	"sync"
	"time"

	"github.com/evmgate/evmgate/internal/balancer"
	"github.com/evmgate/evmgate/internal/jsonrpc"
	"github.com/evmgate/evmgate/internal/upstream"
)

// A filter (eth_newFilter, eth_newBlockFilter,
// eth_newPendingTransactionFilter) lives on the node that made it: another
// node answers "filter not found" to the calls that use it
// (eth_getFilterChanges, eth_getFilterLogs, eth_uninstallFilter). The
// handler remembers which node made each filter and sends those calls
// there, even while it is out of rotation (lagging, syncing) as long as it
// answers. When that node is down (or was replaced by a reload), they go
// to another node, whose "filter not found" tells the client to make the
// filter again, as it would after the node dropped it.

// Filter table bounds.
const (
	// filterIdle is how long a filter no call used is remembered: past a
	// node's own timeout (go-ethereum drops a filter not polled for 5
	// minutes).
	filterIdle = 10 * time.Minute
	// maxFilters bounds the table: past it the filters idle longest are
	// forgotten (see sweepLocked).
	maxFilters = 100_000
)

// filterNodes remembers, per network and filter id, the node that made the
// filter. Only the filter methods read it.
type filterNodes struct {
	mu sync.Mutex // mu protects m
	m  map[filterKey]filterNode
}

type filterKey struct{ network, id string }

type filterNode struct {
	n    *upstream.Node
	used time.Time
}

// put records that n made filter id on network.
func (f *filterNodes) put(network, id string, n *upstream.Node, now time.Time) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.m == nil {
		f.m = map[filterKey]filterNode{}
	}
	if len(f.m) >= maxFilters {
		f.sweepLocked(now)
	}
	f.m[filterKey{network, id}] = filterNode{n, now}
}

// node returns the node that made filter id on network (nil: unknown or
// idle too long), and notes the use.
func (f *filterNodes) node(network, id string, now time.Time) *upstream.Node {
	f.mu.Lock()
	defer f.mu.Unlock()
	k := filterKey{network, id}
	e, ok := f.m[k]
	switch {
	case !ok:
		return nil
	case now.Sub(e.used) > filterIdle:
		delete(f.m, k)
		return nil
	}
	e.used = now
	f.m[k] = e
	return e.n
}

// sweepLocked forgets the filters idle past filterIdle and, if that is not
// enough, those idle at least as long as the mean (about half of them; all
// when they are all of an age).
func (f *filterNodes) sweepLocked(now time.Time) {
	for k, e := range f.m {
		if now.Sub(e.used) > filterIdle {
			delete(f.m, k)
		}
	}
	if len(f.m) < maxFilters {
		return
	}
	var sum time.Duration
	for _, e := range f.m {
		sum += now.Sub(e.used) / time.Duration(len(f.m))
	}
	for k, e := range f.m {
		if now.Sub(e.used) >= sum {
			delete(f.m, k)
		}
	}
}

// filterNeed pins a call that uses a filter to the node that made it,
// while that node answers, in rotation or not (a lagging node still holds
// the filter).
func (ex *exchange) filterNeed(c *jsonrpc.Call, need *balancer.Need) {
	if id, ok := c.FilterID(); ok {
		if at := ex.h.filters.node(ex.net.Name, id, time.Now()); at != nil {
			need.Node, need.Sticky = at, true
		}
	}
}

// noteFilter records the node that answered a call making a filter, from
// the call's result.
func (ex *exchange) noteFilter(n *upstream.Node, result []byte) {
	if id, ok := jsonrpc.FilterIDOf(result); ok {
		ex.h.filters.put(ex.net.Name, id, n, time.Now())
	}
}
