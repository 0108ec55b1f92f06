package upstream

import (
	"testing"
	"time"
)

func TestInherit(t *testing.T) {
	old := New(Spec{Name: "a", URL: "http://127.0.0.1:1", Weight: 1})
	old.ObserveHead(100, 1700000000, 20*time.Millisecond)
	old.SetState(Up)
	old.SetChainID(1337)
	old.SetLoad(0.5)
	old.Failed()
	if !old.TryAcquire() {
		t.Fatal("no slot")
	}
	n := New(Spec{Name: "a", URL: "http://127.0.0.1:1", Weight: 3})
	n.Inherit(old)
	if n.Head() != 100 || n.BlockTime().Unix() != 1700000000 || n.Latency() != 20*time.Millisecond || n.State() != Up ||
		n.ChainID() != 1337 || n.Load() != 0.5 || n.Failures() != 1 {
		t.Fatalf("state not inherited: head %d, state %s, chain %d, latency %s", n.Head(), n.State(), n.ChainID(), n.Latency())
	}
	if n.InFlight() != 0 || n.Weight != 3 {
		t.Fatalf("in flight %d (want 0), weight %d (want the new 3)", n.InFlight(), n.Weight)
	}
}
