package proxy

import (
	"context"
	"sync"
	"sync/atomic"
	"time"
)

// requestCtx is a request's context: its parent with the request's
// deadline. The timer behind Done is made only when something waits on
// Done (a queued call, a retry's backoff, a hedge, a shared cache lookup);
// a call that goes straight to a node and back reads only Deadline, Err
// and Value, so it pays for no timer, and those read atomics, not a lock.
// end cancels it, as a CancelFunc would.
type requestCtx struct {
	context.Context // the parent
	deadline        time.Time

	timed atomic.Pointer[timedCtx] // made by the first Done
	ended atomic.Bool

	mu sync.Mutex // mu orders the making of timed with end
}

// timedCtx is the context Done made, and its cancel.
type timedCtx struct {
	context.Context
	cancel context.CancelFunc
}

func newRequestCtx(parent context.Context, timeout time.Duration) *requestCtx {
	deadline := time.Now().Add(timeout)
	if d, ok := parent.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	return &requestCtx{Context: parent, deadline: deadline}
}

func (c *requestCtx) Deadline() (time.Time, bool) { return c.deadline, true }

func (c *requestCtx) Done() <-chan struct{} {
	if t := c.timed.Load(); t != nil {
		return t.Done()
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	t := c.timed.Load()
	if t == nil {
		ctx, cancel := context.WithDeadline(c.Context, c.deadline)
		t = &timedCtx{ctx, cancel}
		if c.ended.Load() {
			cancel()
		}
		c.timed.Store(t)
	}
	return t.Done()
}

func (c *requestCtx) Err() error {
	if t := c.timed.Load(); t != nil {
		return t.Err()
	}
	if c.ended.Load() {
		return context.Canceled
	}
	if err := c.Context.Err(); err != nil {
		return err
	}
	if !time.Now().Before(c.deadline) {
		return context.DeadlineExceeded
	}
	return nil
}

// Value answers from the timed context once there is one, so that
// contexts derived after a Done attach to it (no goroutine per child) and
// context.Cause finds its cause.
func (c *requestCtx) Value(key any) any {
	if t := c.timed.Load(); t != nil {
		return t.Value(key)
	}
	return c.Context.Value(key)
}

// end cancels the context: its Err is context.Canceled from now on (or
// DeadlineExceeded, when the deadline came first and was seen through Done).
func (c *requestCtx) end() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.ended.Swap(true) {
		return
	}
	if t := c.timed.Load(); t != nil {
		t.cancel()
	}
}
