package upstream

import (
	"context"
	"sync/atomic"
)

// traceHeader is the W3C trace context a try sends to its node.
type traceHeader struct{ parent, state string }

type traceKey struct{}

// traced turns on the look-up of a try's trace context: until a try is
// traced, sending one costs no context look-up.
var traced atomic.Bool

// WithTrace returns ctx whose tries on nodes send traceparent (and
// tracestate, when not empty): the span of the try, so that a node that
// traces continues the trace.
func WithTrace(ctx context.Context, traceparent, tracestate string) context.Context {
	if !traced.Load() {
		traced.Store(true)
	}
	return context.WithValue(ctx, traceKey{}, &traceHeader{parent: traceparent, state: tracestate})
}

// traceOf is the trace context of a try's ctx, nil when it has none.
func traceOf(ctx context.Context) *traceHeader {
	if !traced.Load() {
		return nil
	}
	th, _ := ctx.Value(traceKey{}).(*traceHeader)
	return th
}
