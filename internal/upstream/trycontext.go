package upstream

import (
	"context"
	"time"
)

// TryContext bounds one try on n by timeout, on top of ctx. When ctx ends
// sooner, ctx itself is the try's context. The pooled HTTP/1.1 client only
// reads the deadline, so for its nodes no timer is made: the returned
// context reports the deadline through Deadline and Err, not through Done,
// and is meant for Do and Call alone. Other nodes get a context whose cause
// is ErrTryTimeout when the timeout fires. ctx's marks (Interruptible,
// SlowMethod) stay on the returned context. The cancel function must be
// called when the try ends.
func (n *Node) TryContext(ctx context.Context, timeout time.Duration) (context.Context, context.CancelFunc) {
	deadline := time.Now().Add(timeout)
	if d, ok := ctx.Deadline(); ok && !d.After(deadline) {
		return ctx, noCancel
	}
	marks, base := marksOf(ctx) // kept on the try's context (see Interruptible, SlowMethod)
	var tctx context.Context
	cancel := context.CancelFunc(noCancel)
	if n.fast != nil && !n.overWS(ctx) {
		tctx = &tryCtx{Context: base, deadline: deadline}
	} else {
		tctx, cancel = context.WithDeadlineCause(base, deadline, ErrTryTimeout)
	}
	if marks != 0 {
		tctx = &markedCtx{tctx, marks}
	}
	return tctx, cancel
}

func noCancel() {}

// tryCtx is ctx with an earlier deadline and no timer.
type tryCtx struct {
	context.Context
	deadline time.Time
}

func (c *tryCtx) Deadline() (time.Time, bool) { return c.deadline, true }

func (c *tryCtx) Err() error {
	if err := c.Context.Err(); err != nil {
		return err
	}
	if !time.Now().Before(c.deadline) {
		return context.DeadlineExceeded
	}
	return nil
}
