package sched

import (
	"context"
	"errors"
	"testing"
	"time"
)

// WaitQueued reports the length of the call's class queue once it joined
// it, itself included, and 0 for a call granted at once; other classes do
// not count.
func TestWaitQueuedReportsClassQueueLength(t *testing.T) {
	h := newHarness(t, Config{LowMaxWait: -1}, nil)
	h.free.Store(1)
	if n, err := h.s.WaitQueued(context.Background(), Low, false, h.try("first")); err != nil || n != 0 {
		t.Fatalf("granted at once: queued %d, %v; want 0, nil", n, err)
	}
	type answer struct {
		n   int
		err error
	}
	answers := map[string]chan answer{}
	for _, name := range []string{"L1", "H1", "L2", "L3", "H2"} {
		res := make(chan answer, 1)
		answers[name] = res
		go func() {
			n, err := h.s.WaitQueued(context.Background(), classOf(t, name), false, h.try(name))
			res <- answer{n, err}
		}()
		select {
		case <-h.queued:
		case <-time.After(hangGuard):
			t.Fatalf("call %s was never queued", name)
		}
	}
	equalOrder(t, h.drain(5), []string{"H1", "H2", "L1", "L2", "L3"})
	want := map[string]int{"L1": 1, "H1": 1, "L2": 2, "L3": 3, "H2": 2}
	for name, res := range answers {
		select {
		case a := <-res:
			if a.err != nil || a.n != want[name] {
				t.Errorf("%s: queued %d, %v; want %d, nil", name, a.n, a.err, want[name])
			}
		case <-time.After(hangGuard):
			t.Fatalf("call %s never returned", name)
		}
	}
}

// A full class answers WaitQueued with ErrQueueFull and 0, like Wait.
func TestWaitQueuedQueueFull(t *testing.T) {
	h := newHarness(t, Config{MaxQueued: [NumClasses]int{1, 1, 1}}, nil)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	h.enqueue(ctx, "H1", High, false)
	n, err := h.s.WaitQueued(ctx, High, false, h.try("H2"))
	if n != 0 || !errors.Is(err, ErrQueueFull) {
		t.Fatalf("full class: queued %d, %v; want 0 and ErrQueueFull", n, err)
	}
	cancel()
	if err := h.result("H1"); err == nil {
		t.Fatal("canceled call was granted")
	}
}
