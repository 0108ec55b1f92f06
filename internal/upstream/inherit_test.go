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

// A node replaced by a reload keeps a rate limit answer's cool-down and
// what its rate limit has taken (its bucket, resized to the new limit).
func TestInheritKeepsCoolDownAndBucket(t *testing.T) {
	old := New(Spec{Name: "a", URL: "http://127.0.0.1:1", RateLimit: RateLimit{Rate: 0.1, Burst: 3}})
	now := Now()
	for range 3 {
		if !old.TryAcquireCalls(now, 1) {
			t.Fatal("refused within the burst")
		}
		old.Release()
	}
	old.CoolDown(time.Minute)
	n := New(Spec{Name: "a", URL: "http://127.0.0.1:1", Weight: 2, RateLimit: RateLimit{Rate: 0.1, Burst: 3}})
	n.Inherit(old)
	if d := n.CoolingDown(); d < 50*time.Second {
		t.Fatalf("cool-down after the reload: %s, want the minute kept", d)
	}
	if r, b := n.RateLimited(); r != 0.1 || b != 3 {
		t.Fatalf("rate limit after the reload: %v, %d, want the new 0.1, 3", r, b)
	}
	n.coolUntil.Store(0)
	if n.TryAcquireCalls(Now(), 1) {
		t.Fatal("the emptied bucket was refilled by the reload")
	}
}
