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

// TestTrialWaitsForOlderCalls: a half-open node takes its trial only once
// the calls placed before are reported, so an older call's outcome is
// never taken for the trial's.
func TestTrialWaitsForOlderCalls(t *testing.T) {
	n := upstream.New(upstream.Spec{Name: "n", URL: "http://127.0.0.1:1/"})
	if !n.TryAcquire() { // placed while closed
		t.Fatal("a closed node refused a call")
	}
	n.SetGate(upstream.GateOpen)
	n.SetGate(upstream.GateHalfOpen)
	n.Release()
	if n.TryAcquire() || n.HasFreeSlot() {
		t.Fatal("a half-open node took a trial while an older call was out")
	}
	if g := n.Settle(false); g != upstream.GateHalfOpen {
		t.Fatalf("the older call was judged under %s, want half_open (no verdict)", g)
	}
	if !n.HasFreeSlot() || !n.TryAcquire() {
		t.Fatal("no trial once the older call was reported")
	}
	if n.TryAcquire() {
		t.Fatal("a half-open node took a second trial")
	}
	n.Release()
	if g := n.Settle(true); g != upstream.GateTrial {
		t.Fatalf("the trial was judged under %s", g)
	}
	if n.Gate() != upstream.GateTrial {
		t.Fatal("a trial with a verdict gave its gate back before the breaker's decision")
	}
	n.SetGate(upstream.GateClosed)
	if !n.TryAcquire() {
		t.Fatal("a closed node refused a call")
	}
	if g := n.Settle(true); g != upstream.GateClosed {
		t.Fatalf("a call placed while closed was judged under %s", g)
	}
}
