package upstream_test

import (
	"testing"

	"github.com/evmgate/evmgate/internal/upstream"
)

// TestGate: an open node takes no call, a half-open one exactly one trial,
// and a trial that cannot get a worker slot is given back.
func TestGate(t *testing.T) {
	n := upstream.New(upstream.Spec{Name: "n", URL: "http://127.0.0.1:1/", MaxConcurrency: 1})
	changes := 0
	n.OnChange(func() { changes++ })

	n.SetGate(upstream.GateOpen)
	if n.TryAcquire() || n.HasFreeSlot() {
		t.Fatal("an open node took a call")
	}
	n.SetGate(upstream.GateHalfOpen)
	if !n.HasFreeSlot() || !n.TryAcquire() {
		t.Fatal("a half-open node refused its trial")
	}
	if n.Gate() != upstream.GateTrial || n.TryAcquire() || n.HasFreeSlot() {
		t.Fatal("a half-open node took a second call beside its trial")
	}
	n.Release()
	n.EndTrial()
	if n.Gate() != upstream.GateHalfOpen {
		t.Fatalf("after EndTrial: %s", n.Gate())
	}

	// The trial passes the gate but finds every worker busy: the gate is
	// given back for the next call.
	n.SetGate(upstream.GateClosed)
	if !n.TryAcquire() {
		t.Fatal("a closed node refused a call")
	}
	n.SetGate(upstream.GateHalfOpen)
	if n.TryAcquire() {
		t.Fatal("a node over max_concurrency took a call")
	}
	if n.Gate() != upstream.GateHalfOpen {
		t.Fatalf("a trial without a slot kept the gate: %s", n.Gate())
	}
	n.Release()
	// Only going into and out of GateOpen changes the view.
	if changes != 2 {
		t.Errorf("view rebuilds asked: %d, want 2", changes)
	}
}
