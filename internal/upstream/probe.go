package upstream

import "context"

// probeKey marks a context whose calls are the gateway's own: health
// probes (connProbe) or a subscription's fetches (connBackground).
type probeKey struct{}

// What a connection is for, which says which of a node's connection slots
// it may take (connPool.get).
const (
	connCall       = iota // a client's call: the calls' slots (max_concurrency)
	connProbe             // a health probe: the probes' own slots
	connBackground        // the gateway's own fetch: a call's slot, else a probe's
)

// AsProbe returns ctx marked as a health probe's. A node's max_concurrency
// counts its calls, not its probes: a probe made with ctx never waits for
// a connection behind the node's calls (on a plain http:// node it takes
// one of a few connections kept apart for probes), so calls that take long
// do not make a node that answers look down.
func AsProbe(ctx context.Context) context.Context {
	return context.WithValue(ctx, probeKey{}, connProbe)
}

// AsBackground returns ctx marked as the gateway's own fetch (a
// subscription's blocks and logs): like a client's call it takes a free
// connection slot of the node's calls, but when every one is held (long
// calls on a node with max_concurrency) it may take a probe's instead of
// waiting behind them.
func AsBackground(ctx context.Context) context.Context {
	return context.WithValue(ctx, probeKey{}, connBackground)
}

// connKind returns what ctx's connection is for (connCall unless marked).
func connKind(ctx context.Context) int {
	v, _ := ctx.Value(probeKey{}).(int)
	return v
}
