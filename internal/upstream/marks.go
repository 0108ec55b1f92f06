package upstream

import "context"

// A try's context may carry marks that change how the node's clients treat
// it. They live in the context's type rather than in its values, so a try
// without marks pays one type assertion, not a lookup through the
// request's chain of contexts.
const (
	// markInterrupt: the try may be abandoned while it waits on the node
	// (see Interruptible).
	markInterrupt uint8 = 1 << iota
	// markUnmeasured: the try's answer time says nothing of the node's
	// speed (see SlowMethod).
	markUnmeasured
)

// markedCtx is a context with marks.
type markedCtx struct {
	context.Context
	marks uint8
}

// withMarks returns ctx with marks m added to those it has.
func withMarks(ctx context.Context, m uint8) context.Context {
	if mc, ok := ctx.(*markedCtx); ok {
		if mc.marks&m == m {
			return ctx
		}
		return &markedCtx{mc.Context, mc.marks | m}
	}
	return &markedCtx{ctx, m}
}

// marksOf returns ctx's marks and the context under them.
func marksOf(ctx context.Context) (uint8, context.Context) {
	if mc, ok := ctx.(*markedCtx); ok {
		return mc.marks, mc.Context
	}
	return 0, ctx
}

// Interruptible returns ctx for a try that may be cancelled while the node
// has not answered yet (a hedged try, a long try whose client may leave).
// The pooled HTTP/1.1 client otherwise sees a cancellation only before
// sending and after the answer's head, which costs nothing on the usual
// path; for such a try it cuts the connection at once, and while the
// answer's body is read. TryContext keeps the mark.
func Interruptible(ctx context.Context) context.Context { return withMarks(ctx, markInterrupt) }

// SlowMethod returns ctx for a try of a method that is slow by nature (one
// with a method_timeouts entry: a trace, a wide eth_getLogs). Its answer
// time is left out of the node's answer-time estimate, which the balancer
// compares for every call: a node serving a 20 s trace is not a slow node
// for eth_blockNumber. A failure that is the node's fault still counts, as
// FailurePenalty and no more. TryContext keeps the mark.
func SlowMethod(ctx context.Context) context.Context { return withMarks(ctx, markUnmeasured) }
