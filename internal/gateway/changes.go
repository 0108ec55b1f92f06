package gateway

import (
	"context"
	"sync"
	"time"
)

// changes counts node state changes and wakes the status page's long polls
// (GET /status?version=N&wait=D) when one happens, so that a node going
// down shows on the page at once rather than at the next refresh.
type changes struct {
	mu      sync.Mutex    // mu protects version, changed
	version uint64        // state changes since start
	changed chan struct{} // closed at the next change

	stopOnce sync.Once
	stopped  chan struct{} // closed when the gateway shuts down
}

func newChanges() *changes {
	return &changes{changed: make(chan struct{}), stopped: make(chan struct{})}
}

// stop ends every wait, now and later: a shutting down gateway does not
// wait for long polls.
func (c *changes) stop() { c.stopOnce.Do(func() { close(c.stopped) }) }

// notify records a change and wakes every waiter.
func (c *changes) notify() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.version++
	close(c.changed)
	c.changed = make(chan struct{})
}

// current returns the version and the channel closed at the next change.
func (c *changes) current() (uint64, <-chan struct{}) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.version, c.changed
}

// wait returns once the version differs from seen, d has passed, ctx ends
// or the gateway stops.
func (c *changes) wait(ctx context.Context, seen uint64, d time.Duration) {
	v, ch := c.current()
	if v != seen || d <= 0 {
		return
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ch:
	case <-t.C:
	case <-ctx.Done():
	case <-c.stopped:
	}
}
