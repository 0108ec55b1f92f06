package breaker_test

import (
	"errors"
	"testing"
	"time"

	"github.com/evmgate/evmgate/internal/breaker"
	"github.com/evmgate/evmgate/internal/upstream"
	"github.com/prometheus/client_golang/prometheus"
)

var (
	refused  = &upstream.Error{Kind: upstream.KindDial, Node: "n", Err: errors.New("connection refused")}
	canceled = &upstream.Error{Kind: upstream.KindCanceled, Node: "n", Err: errors.New("client went away")}
	behind   = &upstream.Error{Kind: upstream.KindUnavailable, Node: "n", Err: errors.New("header not found")}
)

func newSet(t *testing.T, set breaker.Settings) *breaker.Set {
	t.Helper()
	m, err := breaker.NewMetrics(prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	s := breaker.New("mainnet", set, nil, m)
	t.Cleanup(s.Close)
	return s
}

func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

// TestBreakerCycle: failures open it, the cool-down makes it half-open with
// room for one trial, and the trial's outcome closes or reopens it.
func TestBreakerCycle(t *testing.T) {
	s := newSet(t, breaker.Settings{Failures: 3, Ratio: 0.5, Window: 10 * time.Second, Cooldown: 500 * time.Millisecond})
	n := upstream.New(upstream.Spec{Name: "n", URL: "http://127.0.0.1:1/"})
	for range 5 {
		s.Observe(n, nil)
	}
	for range 2 {
		s.Observe(n, refused)
	}
	if g := n.Gate(); g != upstream.GateClosed {
		t.Fatalf("after 2 failures in 7 calls: %s, want closed", g)
	}
	s.Observe(n, refused) // the third failure, 3 of 8 calls: under the ratio
	if g := n.Gate(); g != upstream.GateClosed {
		t.Fatalf("after 3 failures in 8 calls: %s, want closed (ratio 0.5)", g)
	}
	for range 3 {
		s.Observe(n, refused)
	}
	if g := n.Gate(); g != upstream.GateOpen {
		t.Fatalf("after 6 failures in 11 calls: %s, want open", g)
	}
	if n.TryAcquire() || n.HasFreeSlot() {
		t.Fatal("an open node took a call")
	}

	eventually(t, "half-open after the cool-down", func() bool { return n.Gate() == upstream.GateHalfOpen })
	if !n.TryAcquire() {
		t.Fatal("a half-open node refused its trial")
	}
	if n.TryAcquire() {
		t.Fatal("a half-open node took a second call beside its trial")
	}
	// A trial without a verdict (the client left, the node was behind)
	// leaves room for another.
	n.Release()
	s.Observe(n, canceled)
	if g := n.Gate(); g != upstream.GateHalfOpen {
		t.Fatalf("after a trial without verdict: %s, want half_open", g)
	}
	if !n.TryAcquire() {
		t.Fatal("no second trial after one without verdict")
	}
	n.Release()
	s.Observe(n, refused)
	if g := n.Gate(); g != upstream.GateOpen {
		t.Fatalf("after a failed trial: %s, want open", g)
	}

	eventually(t, "half-open after the second cool-down", func() bool { return n.Gate() == upstream.GateHalfOpen })
	if !n.TryAcquire() {
		t.Fatal("no trial after the second cool-down")
	}
	n.Release()
	s.Observe(n, nil)
	if g := n.Gate(); g != upstream.GateClosed {
		t.Fatalf("after a good trial: %s, want closed", g)
	}
	if !n.TryAcquire() || !n.TryAcquire() {
		t.Fatal("a closed node refused calls")
	}
}

// TestBreakerIgnoresNoFault: outcomes that are not the node's fault never
// open it.
func TestBreakerIgnoresNoFault(t *testing.T) {
	s := newSet(t, breaker.Settings{Failures: 1, Ratio: 0.1, Window: time.Minute, Cooldown: time.Hour})
	n := upstream.New(upstream.Spec{Name: "n", URL: "http://127.0.0.1:1/"})
	for range 50 {
		s.Observe(n, canceled)
		s.Observe(n, behind)
	}
	if g := n.Gate(); g != upstream.GateClosed {
		t.Fatalf("after client cancels and lagging answers: %s, want closed", g)
	}
}

// TestCloseLetsNodesBe: a retired set closes its nodes' gates, so no node
// stays out with no timer left to bring it back.
func TestCloseLetsNodesBe(t *testing.T) {
	s := breaker.New("mainnet", breaker.Settings{Failures: 1, Ratio: 0.5, Window: time.Minute, Cooldown: time.Hour}, nil, nil)
	n := upstream.New(upstream.Spec{Name: "n", URL: "http://127.0.0.1:1/"})
	s.Observe(n, refused)
	if n.Gate() != upstream.GateOpen {
		t.Fatal("not open")
	}
	s.Close()
	if g := n.Gate(); g != upstream.GateClosed {
		t.Fatalf("after Close: %s, want closed", g)
	}
	s.Observe(n, refused)
	if g := n.Gate(); g == upstream.GateOpen {
		t.Fatal("a closed set opened a breaker")
	}
}

// openWithOlderCall admits a call on a fresh node, then opens the breaker
// with another call's failure and waits for the cool-down: the first call
// is still out when the node turns half-open.
func openWithOlderCall(t *testing.T) (*breaker.Set, *upstream.Node) {
	t.Helper()
	s := newSet(t, breaker.Settings{Failures: 1, Ratio: 0.5, Window: time.Minute, Cooldown: 10 * time.Millisecond})
	n := upstream.New(upstream.Spec{Name: "n", URL: "http://127.0.0.1:1/"})
	if !n.TryAcquire() { // the older call
		t.Fatal("a closed node refused a call")
	}
	if !n.TryAcquire() {
		t.Fatal("a closed node refused a second call")
	}
	n.Release()
	s.Observe(n, refused)
	if g := n.Gate(); g != upstream.GateOpen {
		t.Fatalf("after a failure: %s, want open", g)
	}
	eventually(t, "half-open after the cool-down", func() bool { return n.Gate() == upstream.GateHalfOpen })
	return s, n
}

// TestOlderCallLeavesTrialBe: a call placed before the breaker opened that
// ends without a verdict while the node is half-open neither ends the
// trial nor lets a second trial through beside it.
func TestOlderCallLeavesTrialBe(t *testing.T) {
	s, n := openWithOlderCall(t)
	n.Release() // the older call's try ends
	trials := 0
	if n.TryAcquire() {
		trials++
	}
	s.Observe(n, canceled) // the older call's outcome: no verdict
	if n.TryAcquire() {
		trials++
	}
	if trials != 1 {
		t.Fatalf("%d trials admitted at once, want 1", trials)
	}
	if n.TryAcquire() || n.HasFreeSlot() {
		t.Fatal("a half-open node took a call beside its trial")
	}
	n.Release()
	s.Observe(n, nil)
	if g := n.Gate(); g != upstream.GateClosed {
		t.Fatalf("after a good trial: %s, want closed", g)
	}
}

// TestOlderCallIsNoVerdict: the outcome of a call placed before the breaker
// opened is not taken for the trial's, good or bad.
func TestOlderCallIsNoVerdict(t *testing.T) {
	for _, c := range []struct {
		name string
		err  error
	}{{"success", nil}, {"failure", refused}} {
		t.Run(c.name, func(t *testing.T) {
			s, n := openWithOlderCall(t)
			n.Release()
			s.Observe(n, c.err)
			if g := n.Gate(); g != upstream.GateHalfOpen {
				t.Fatalf("after an older call's outcome: %s, want half_open", g)
			}
			if !n.TryAcquire() {
				t.Fatal("no trial once the older call ended")
			}
			n.Release()
			s.Observe(n, refused)
			if g := n.Gate(); g != upstream.GateOpen {
				t.Fatalf("after a failed trial: %s, want open", g)
			}
		})
	}
}
