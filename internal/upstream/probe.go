package upstream

import "context"

// probeKey marks a context whose calls are health probes.
type probeKey struct{}

// AsProbe returns ctx marked as a health probe's. A node's max_concurrency
// counts its calls, not its probes: a probe made with ctx never waits for
// a connection behind the node's calls (on a plain http:// node it takes
// one of a few connections kept apart for probes), so calls that take long
// do not make a node that answers look down.
func AsProbe(ctx context.Context) context.Context {
	return context.WithValue(ctx, probeKey{}, true)
}

// isProbe reports whether ctx is a probe's (AsProbe).
func isProbe(ctx context.Context) bool {
	v, _ := ctx.Value(probeKey{}).(bool)
	return v
}
