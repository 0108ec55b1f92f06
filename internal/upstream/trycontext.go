package upstream

import (
	"context"
	"time"
)

// TryContext bounds one try on n by timeout, on top of ctx. When ctx ends
// sooner, ctx itself is the try's context. The pooled HTTP/1.1 client only
// reads the deadline, so for its nodes no timer is made: the returned
// context reports the deadline through Deadline and Err, not through Done,
// and is meant for Do and Call alone; made from an Interruptible ctx, it
// is interruptible too. Other nodes get a context whose cause
// is ErrTryTimeout when the timeout fires. The cancel function must be
// called when the try ends.
func (n *Node) TryContext(ctx context.Context, timeout time.Duration) (context.Context, context.CancelFunc) {
	deadline := time.Now().Add(timeout)
	if d, ok := ctx.Deadline(); ok && !d.After(deadline) {
		return ctx, noCancel
	}
	if n.fast != nil && !n.overWS(ctx) {
		if ic, ok := ctx.(*interruptCtx); ok {
			// Still watched by the pooled client (see Interruptible).
			return &interruptCtx{&tryCtx{Context: ic.Context, deadline: deadline}}, noCancel
		}
		return &tryCtx{Context: ctx, deadline: deadline}, noCancel
	}
	return context.WithDeadlineCause(ctx, deadline, ErrTryTimeout)
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
