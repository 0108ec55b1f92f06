package sched

import (
	"errors"
	"testing"
	"time"
)

// noLowRules turns off the anti-starvation rules so a test sees the pure
// fast-track/high interleave.
func noLowRules(c Config) Config {
	c.LowShare = -1
	c.LowMaxWait = -1
	return c
}

func TestGrantOrderFastTrackHigh(t *testing.T) {
	t.Parallel()
	arrivals := []string{"L1", "H1", "F1", "H2", "F2", "F3", "H3", "F4", "L2", "F5", "H4", "F6"}
	tests := []struct {
		name string
		cfg  Config
		want []string
	}{
		{"default N=2", Config{}, []string{"F1", "F2", "H1", "F3", "F4", "H2", "F5", "F6", "H3", "H4", "L1", "L2"}},
		{"N=1 alternates", Config{FastTrackPerHigh: 1}, []string{"F1", "H1", "F2", "H2", "F3", "H3", "F4", "H4", "F5", "F6", "L1", "L2"}},
		{"N=3", Config{FastTrackPerHigh: 3}, []string{"F1", "F2", "F3", "H1", "F4", "F5", "F6", "H2", "H3", "H4", "L1", "L2"}},
		{"drain first", Config{DrainFastTrackFirst: true}, []string{"F1", "F2", "F3", "F4", "F5", "F6", "H1", "H2", "H3", "H4", "L1", "L2"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t, noLowRules(tc.cfg), nil)
			h.enqueueAll(arrivals...)
			equalOrder(t, h.drain(len(arrivals)), tc.want)
			h.expectGranted(arrivals...)
			if n := h.s.Len(); n != [NumClasses]int{} {
				t.Fatalf("Len after drain = %v", n)
			}
		})
	}
}

// TestFastTrackCountRestarts checks that a busy period that starts after
// the fast-track queue emptied begins with fast-track again.
func TestFastTrackCountRestarts(t *testing.T) {
	t.Parallel()
	h := newHarness(t, noLowRules(Config{}), nil)
	h.enqueueAll("F1", "H1")
	equalOrder(t, h.drain(1), []string{"F1"}) // fast-track queue now empty
	h.enqueueAll("F2", "F3", "F4")
	equalOrder(t, h.drain(4), []string{"F2", "F3", "H1", "F4"})
	h.expectGranted("F1", "F2", "F3", "F4", "H1")
}

func TestLowShare(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		cfg      Config
		arrivals []string
		want     []string
	}{
		{
			"one in three to low",
			Config{LowShare: 3, LowMaxWait: -1},
			[]string{"L1", "L2", "L3", "H1", "H2", "H3", "H4", "H5", "H6", "H7"},
			[]string{"H1", "H2", "L1", "H3", "H4", "L2", "H5", "H6", "L3", "H7"},
		},
		{
			"with fast-track interleave",
			Config{LowShare: 4, LowMaxWait: -1},
			[]string{"L1", "L2", "F1", "F2", "F3", "F4", "H1", "H2", "H3"},
			[]string{"F1", "F2", "H1", "L1", "F3", "F4", "H2", "L2", "H3"},
		},
		{
			"off starves low until the others drain",
			Config{LowShare: -1, LowMaxWait: -1},
			[]string{"L1", "H1", "H2", "H3", "H4"},
			[]string{"H1", "H2", "H3", "H4", "L1"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t, tc.cfg, nil)
			h.enqueueAll(tc.arrivals...)
			equalOrder(t, h.drain(len(tc.arrivals)), tc.want)
			h.expectGranted(tc.arrivals...)
		})
	}
}

func TestLowMaxWaitPromotion(t *testing.T) {
	t.Parallel()
	clock := newFakeClock()
	h := newHarness(t, Config{LowShare: -1, LowMaxWait: 2 * time.Second}, clock.now)
	h.enqueueAll("H0")             // t=0: older than every low call
	h.enqueueAll("L1")             // t=0
	clock.advance(time.Second)     //
	h.enqueueAll("L2")             // t=1s
	clock.advance(time.Second)     //
	h.enqueueAll("H1", "H2")       // t=2s
	h.enqueueAll("F1", "F2", "F3") // t=2s
	clock.advance(500 * time.Millisecond)
	// t=2.5s: L1 (2.5s old) is promoted and arrived before H1, but after H0.
	// L2 (1.5s old) is not promoted yet.
	got := h.drain(5)
	equalOrder(t, got, []string{"F1", "F2", "H0", "F3", "L1"})
	clock.advance(time.Second) // t=3.5s: L2 is 2.5s old, older than H1.
	got = h.drain(3)
	equalOrder(t, got, []string{"L2", "H1", "H2"})
	h.expectGranted("H0", "H1", "H2", "L1", "L2", "F1", "F2", "F3")
}

func TestLowMaxWaitOff(t *testing.T) {
	t.Parallel()
	clock := newFakeClock()
	h := newHarness(t, Config{LowShare: -1, LowMaxWait: -1}, clock.now)
	h.enqueueAll("L1", "H1", "H2")
	clock.advance(time.Hour)
	equalOrder(t, h.drain(3), []string{"H1", "H2", "L1"})
	h.expectGranted("L1", "H1", "H2")
}

// TestHeadOfLine: when the head call's try fails, nothing behind it is
// offered the slot; with Lookahead the next calls are.
func TestHeadOfLine(t *testing.T) {
	t.Parallel()
	for _, lookahead := range []int{0, 1} {
		h := newHarness(t, noLowRules(Config{Lookahead: lookahead}), nil)
		blocked := make(chan error, 1)
		// H0 needs a node that never frees: its try always fails.
		go func() { blocked <- h.s.Wait(t.Context(), High, false, func() bool { return false }) }()
		<-h.queued
		h.enqueueAll("H1", "L1")
		got := h.releaseOne()
		switch lookahead {
		case 0:
			equalOrder(t, got, nil)
			if n := h.free.Load(); n != 1 {
				t.Fatalf("free slots = %d, want the slot left unused", n)
			}
			h.s.Close()
			for _, n := range []string{"H1", "L1"} {
				if err := h.result(n); !errors.Is(err, ErrClosed) {
					t.Fatalf("call %s: %v, want ErrClosed", n, err)
				}
			}
		case 1:
			equalOrder(t, got, []string{"H1"})
			equalOrder(t, h.releaseOne(), []string{"L1"}) // H0 fails again, L1 still gets the slot
			h.expectGranted("H1", "L1")
		}
		h.s.Close()
		if err := <-blocked; !errors.Is(err, ErrClosed) {
			t.Fatalf("blocked call: %v, want ErrClosed", err)
		}
	}
}
