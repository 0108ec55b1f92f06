package sched

import (
	"errors"
	"testing"
)

// TestReconfigureKeepsWaiters: calls queued before a reload are granted
// after it, under the new rule, and the new bound applies to new calls.
func TestReconfigureKeepsWaiters(t *testing.T) {
	t.Parallel()
	h := newHarness(t, Config{FastTrackPerHigh: 1}, nil)
	h.enqueueAll("H1", "H2", "F1", "F2", "F3")
	if err := h.s.Reconfigure(Config{DrainFastTrackFirst: true, MaxQueued: [NumClasses]int{0, 0, 1}}); err != nil {
		t.Fatal(err)
	}
	equalOrder(t, h.drain(5), []string{"F1", "F2", "F3", "H1", "H2"})
	h.expectGranted("H1", "H2", "F1", "F2", "F3")

	h.enqueueAll("L1")
	if err := h.s.Wait(t.Context(), Low, false, h.try("L2")); !errors.Is(err, ErrQueueFull) {
		t.Fatalf("a second low call under max_queued_low 1: %v, want ErrQueueFull", err)
	}
	equalOrder(t, h.drain(1), []string{"L1"})
	h.expectGranted("L1")
}

func TestReconfigureRefusesInvalid(t *testing.T) {
	t.Parallel()
	s := New(Config{}, nil)
	defer s.Close()
	if err := s.Reconfigure(Config{LowShare: 1}); err == nil {
		t.Fatal("LowShare 1 accepted")
	}
}
