package proxy

import (
	"context"
	"sync"
	"time"
)

// requestCtx is a request's context: its parent with the request's
// deadline. The timer behind Done is made only when something waits on
// Done (a queued call, a retry's backoff, a hedge, a shared cache lookup);
// a call that goes straight to a node and back reads only Deadline and
// Err, so it pays for no timer. end cancels it, as a CancelFunc would.
type requestCtx struct {
	context.Context // the parent
	deadline        time.Time

	mu     sync.Mutex
	timed  context.Context // made by the first Done
	cancel context.CancelFunc
	ended  bool
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
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.timed == nil {
		c.timed, c.cancel = context.WithDeadline(c.Context, c.deadline)
		if c.ended {
			c.cancel()
		}
	}
	return c.timed.Done()
}

func (c *requestCtx) Err() error {
	c.mu.Lock()
	timed, ended := c.timed, c.ended
	c.mu.Unlock()
	switch {
	case timed != nil:
		return timed.Err()
	case ended:
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
	c.mu.Lock()
	timed := c.timed
	c.mu.Unlock()
	if timed != nil {
		return timed.Value(key)
	}
	return c.Context.Value(key)
}

// end cancels the context: its Err is context.Canceled from now on (or
// DeadlineExceeded, when the deadline came first and was seen through Done).
func (c *requestCtx) end() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.ended {
		return
	}
	c.ended = true
	if c.cancel != nil {
		c.cancel()
	}
}
