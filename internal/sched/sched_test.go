package sched

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"
)

func TestFastPath(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	var grants []time.Duration
	h := newHarness(t, Config{OnGrant: func(c Class, d time.Duration) {
		mu.Lock()
		grants = append(grants, d)
		mu.Unlock()
	}}, nil)
	h.free.Store(2)
	for _, c := range []Class{Low, High} {
		if err := h.s.Wait(t.Context(), c, false, h.try(c.String())); err != nil {
			t.Fatalf("Wait(%s) = %v", c, err)
		}
	}
	if len(h.queued) != 0 {
		t.Fatalf("fast path queued %d calls", len(h.queued))
	}
	st := h.s.Stats()
	if st.Granted != [NumClasses]uint64{0, 1, 1} {
		t.Fatalf("Granted = %v", st.Granted)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(grants) != 2 || grants[0] != 0 || grants[1] != 0 {
		t.Fatalf("OnGrant waits = %v, want two zero waits", grants)
	}
}

func TestOnGrantWaited(t *testing.T) {
	t.Parallel()
	clock := newFakeClock()
	got := make(chan time.Duration, 1)
	h := newHarness(t, Config{OnGrant: func(c Class, d time.Duration) {
		if c == High {
			got <- d
		}
	}}, clock.now)
	h.enqueueAll("H1")
	clock.advance(3 * time.Second)
	equalOrder(t, h.drain(1), []string{"H1"})
	h.expectGranted("H1")
	if d := <-got; d != 3*time.Second {
		t.Fatalf("waited %v, want 3s", d)
	}
}

// TestQueueFullPerClass: each class is bounded by its own cap only.
func TestQueueFullPerClass(t *testing.T) {
	t.Parallel()
	h := newHarness(t, Config{MaxQueued: [NumClasses]int{1, 2, 3}}, nil)
	h.enqueueAll("H1", "H2", "L1", "L2", "L3") // high and low are full
	full := func(c Class) {
		t.Helper()
		err := h.s.Wait(t.Context(), c, false, h.try("rejected"))
		if !errors.Is(err, ErrQueueFull) {
			t.Fatalf("Wait(%s) on a full class = %v, want ErrQueueFull", c, err)
		}
	}
	full(High)
	full(Low)
	h.enqueueAll("F1") // fast-track has room although the others are full
	full(FastTrack)
	full(FastTrack)
	if st := h.s.Stats(); st.Rejected != [NumClasses]uint64{2, 1, 1} {
		t.Fatalf("Rejected = %v", st.Rejected)
	}
	if n := h.s.Len(); n != [NumClasses]int{1, 2, 3} {
		t.Fatalf("Len = %v", n)
	}
	equalOrder(t, h.drain(6), []string{"F1", "H1", "H2", "L1", "L2", "L3"})
	h.expectGranted("F1", "H1", "H2", "L1", "L2", "L3")
}

func TestRetryGoesToFront(t *testing.T) {
	t.Parallel()
	h := newHarness(t, noLowRules(Config{MaxQueued: [NumClasses]int{0, 2, 0}}), nil)
	h.enqueueAll("L1", "H1", "H2")
	h.enqueue(t.Context(), "H3retry", High, true) // over the cap of 2: admitted
	h.enqueue(t.Context(), "L2retry", Low, true)
	if n := h.s.Len(); n != [NumClasses]int{0, 3, 2} {
		t.Fatalf("Len = %v", n)
	}
	equalOrder(t, h.drain(5), []string{"H3retry", "H1", "H2", "L2retry", "L1"})
	h.expectGranted("H3retry", "H1", "H2", "L2retry", "L1")
}

func TestRetryWhenClosedAnswers(t *testing.T) {
	t.Parallel()
	h := newHarness(t, Config{}, nil)
	h.s.Close()
	for _, retry := range []bool{false, true} {
		if err := h.s.Wait(t.Context(), High, retry, h.try("x")); !errors.Is(err, ErrClosed) {
			t.Fatalf("Wait(retry=%v) after Close = %v, want ErrClosed", retry, err)
		}
	}
}

func TestCloseAnswersEveryWaiter(t *testing.T) {
	t.Parallel()
	h := newHarness(t, Config{}, nil)
	names := []string{"F1", "H1", "L1", "F2", "H2", "L2", "L3"}
	h.enqueueAll(names...)
	h.s.Close()
	h.s.Close()
	for _, n := range names {
		if err := h.result(n); !errors.Is(err, ErrClosed) {
			t.Fatalf("call %s: %v, want ErrClosed", n, err)
		}
	}
	if n := h.s.Len(); n != [NumClasses]int{} {
		t.Fatalf("Len after Close = %v", n)
	}
	h.free.Store(1)
	h.s.Kick()
	if err := h.s.Wait(t.Context(), Low, false, h.try("late")); !errors.Is(err, ErrClosed) {
		t.Fatalf("Wait after Close = %v, want ErrClosed", err)
	}
	equalOrder(t, h.order, nil)
}

// TestExpiredWhileQueued: a queued call whose deadline passes leaves the
// queue with ErrExpired and is never granted; the next call is.
func TestExpiredWhileQueued(t *testing.T) {
	t.Parallel()
	h := newHarness(t, Config{}, nil)
	ctx, cancel := context.WithTimeout(t.Context(), 250*time.Millisecond)
	defer cancel()
	h.enqueue(ctx, "H1", High, false)
	h.enqueueAll("H2")
	<-ctx.Done()
	err := h.result("H1")
	if !errors.Is(err, ErrExpired) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("expired call: %v, want ErrExpired and DeadlineExceeded", err)
	}
	if n := h.s.Len(); n != [NumClasses]int{0, 1, 0} {
		t.Fatalf("Len = %v, want only H2", n)
	}
	equalOrder(t, h.drain(1), []string{"H2"})
	h.expectGranted("H2")
	if st := h.s.Stats(); st.Expired != [NumClasses]uint64{0, 1, 0} || st.Granted != [NumClasses]uint64{0, 1, 0} {
		t.Fatalf("Stats = %+v", st)
	}
}

func TestCanceledWhileQueued(t *testing.T) {
	t.Parallel()
	h := newHarness(t, Config{}, nil)
	ctx, cancel := context.WithCancel(t.Context())
	h.enqueue(ctx, "L1", Low, false)
	cancel()
	err := h.result("L1")
	if !errors.Is(err, context.Canceled) || errors.Is(err, ErrExpired) {
		t.Fatalf("canceled call: %v, want context.Canceled only", err)
	}
	if st := h.s.Stats(); st.Canceled != [NumClasses]uint64{0, 0, 1} {
		t.Fatalf("Canceled = %v", st.Canceled)
	}
	if err := h.s.Wait(ctx, High, false, h.try("late")); !errors.Is(err, context.Canceled) {
		t.Fatalf("Wait with a done context = %v", err)
	}
	equalOrder(t, h.order, nil)
}

// manualCtx is a context whose Err and Done are set separately, to hold
// the moment when a deadline has passed but the waiting goroutine has not
// run yet.
type manualCtx struct {
	context.Context
	mu   sync.Mutex
	err  error
	done chan struct{}
}

func newManualCtx() *manualCtx {
	return &manualCtx{Context: context.Background(), done: make(chan struct{})}
}

func (c *manualCtx) Done() <-chan struct{} { return c.done }

func (c *manualCtx) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err
}

func (c *manualCtx) expire() {
	c.mu.Lock()
	c.err = context.DeadlineExceeded
	c.mu.Unlock()
}

// TestExpiredBeforeWakeNeverGranted: the deadline passed, the waiter has not
// noticed yet, and a slot frees. The grant goes to the next call.
func TestExpiredBeforeWakeNeverGranted(t *testing.T) {
	t.Parallel()
	h := newHarness(t, Config{}, nil)
	ctx := newManualCtx()
	h.enqueue(ctx, "H1", High, false)
	h.enqueueAll("L1")
	ctx.expire()
	equalOrder(t, h.drain(1), []string{"L1"})
	if n := h.s.Len(); n != [NumClasses]int{} {
		t.Fatalf("Len = %v, want the expired call gone", n)
	}
	close(ctx.done)
	if err := h.result("H1"); !errors.Is(err, ErrExpired) {
		t.Fatalf("expired call: %v, want ErrExpired", err)
	}
	h.expectGranted("L1")
}

// TestGrantBeforeCancelWins: a grant decided before the context ends is
// kept, whichever channel the waiting goroutine sees first.
func TestGrantBeforeCancelWins(t *testing.T) {
	t.Parallel()
	for i := range 200 {
		h := newHarness(t, Config{}, nil)
		ctx := newManualCtx()
		h.enqueue(ctx, "H1", High, false)
		equalOrder(t, h.drain(1), []string{"H1"})
		ctx.expire()
		close(ctx.done)
		if err := h.result("H1"); err != nil {
			t.Fatalf("round %d: granted call returned %v", i, err)
		}
	}
}

func TestWaitUnknownClass(t *testing.T) {
	t.Parallel()
	s := New(Config{}, nil)
	if err := s.Wait(t.Context(), Class(7), false, func() bool { return true }); err == nil {
		t.Fatal("Wait with class 7 succeeded")
	}
}

func TestNewPanicsOnInvalidConfig(t *testing.T) {
	t.Parallel()
	defer func() {
		if recover() == nil {
			t.Fatal("New accepted LowShare 1")
		}
	}()
	New(Config{LowShare: 1}, nil)
}
