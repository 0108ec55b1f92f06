package sched

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// hangGuard bounds how long a test waits for a signal that must come; it
// turns a bug into a failure instead of a stuck test run.
const hangGuard = 10 * time.Second

// harness drives a Scheduler whose try functions share a counter of free
// worker slots, and records the order in which calls get a slot.
type harness struct {
	t      *testing.T
	s      *Scheduler
	free   atomic.Int64
	queued chan Class

	mu      sync.Mutex // mu protects order
	order   []string
	results map[string]chan error // written only by the test goroutine
}

func newHarness(t *testing.T, cfg Config, now func() time.Time) *harness {
	t.Helper()
	h := &harness{t: t, s: New(cfg, now), queued: make(chan Class, 1024), results: map[string]chan error{}}
	h.s.queuedHook = func(c Class) { h.queued <- c }
	t.Cleanup(h.s.Close)
	return h
}

// try returns a try function that takes one free slot for the call name.
func (h *harness) try(name string) func() bool {
	return func() bool {
		for {
			n := h.free.Load()
			if n <= 0 {
				return false
			}
			if h.free.CompareAndSwap(n, n-1) {
				h.mu.Lock()
				h.order = append(h.order, name)
				h.mu.Unlock()
				return true
			}
		}
	}
}

// enqueue starts a call and returns once the scheduler has queued it.
func (h *harness) enqueue(ctx context.Context, name string, class Class, retry bool) {
	h.t.Helper()
	res := make(chan error, 1)
	h.results[name] = res
	go func() { res <- h.s.Wait(ctx, class, retry, h.try(name)) }()
	select {
	case c := <-h.queued:
		if c != class {
			h.t.Fatalf("queued %s, want %s", c, class)
		}
	case err := <-res:
		h.t.Fatalf("call %s returned %v instead of queuing", name, err)
	case <-time.After(hangGuard):
		h.t.Fatalf("call %s was never queued", name)
	}
}

// enqueueAll queues calls named by class letter and number (F1, H2, L3).
func (h *harness) enqueueAll(names ...string) {
	h.t.Helper()
	for _, n := range names {
		h.enqueue(context.Background(), n, classOf(h.t, n), false)
	}
}

func classOf(t *testing.T, name string) Class {
	t.Helper()
	switch name[0] {
	case 'F':
		return FastTrack
	case 'H':
		return High
	case 'L':
		return Low
	}
	t.Fatalf("bad call name %q", name)
	return Low
}

// releaseOne frees one slot and kicks; it returns the calls granted.
func (h *harness) releaseOne() []string {
	h.mu.Lock()
	before := len(h.order)
	h.mu.Unlock()
	h.free.Add(1)
	h.s.Kick()
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]string(nil), h.order[before:]...)
}

// drain releases one slot at a time until n calls were granted, checking
// that each release grants exactly one call, and returns the grant order.
func (h *harness) drain(n int) []string {
	h.t.Helper()
	var got []string
	for len(got) < n {
		g := h.releaseOne()
		if len(g) != 1 {
			h.t.Fatalf("one free slot granted %v after %v", g, got)
		}
		got = append(got, g...)
	}
	return got
}

// result waits for the named call's Wait to return.
func (h *harness) result(name string) error {
	h.t.Helper()
	select {
	case err := <-h.results[name]:
		return err
	case <-time.After(hangGuard):
		h.t.Fatalf("call %s never returned", name)
		return nil
	}
}

func (h *harness) expectGranted(names ...string) {
	h.t.Helper()
	for _, n := range names {
		if err := h.result(n); err != nil {
			h.t.Errorf("call %s: %v, want granted", n, err)
		}
	}
}

func equalOrder(t *testing.T, got, want []string) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("grant order %v, want %v", got, want)
	}
	for i := range got {
		if got[i] != want[i] {
			t.Fatalf("grant order %v, want %v (first difference at %d)", got, want, i)
		}
	}
}

// fakeClock is a settable clock for LowMaxWait and wait-time tests.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newFakeClock() *fakeClock { return &fakeClock{t: time.Unix(1_700_000_000, 0)} }

func (c *fakeClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}
