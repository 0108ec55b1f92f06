package upstream_test

import (
	"sync/atomic"
	"testing"
	"time"

	"github.com/evmgate/evmgate/internal/upstream"
)

// sharedNode returns a node with a shared rate limit of 25 a second and a
// burst of 50 (leases of 5), and the count of its calls for a lease.
func sharedNode(t *testing.T) (*upstream.Node, *atomic.Int64) {
	t.Helper()
	var wants atomic.Int64
	n := upstream.New(upstream.Spec{Name: "n", URL: "http://127.0.0.1:1",
		RateLimit: upstream.RateLimit{Rate: 25, Burst: 50, Shared: true}, WantLease: func() { wants.Add(1) }})
	return n, &wants
}

// A node with a shared limit sends no call before a lease arrives, asks a
// chunk of a tenth of the burst, spends it with no further ask until it
// runs low, and asks the next chunk before it runs out.
func TestLeaseChunksAndLowWater(t *testing.T) {
	n, wants := sharedNode(t)
	now := upstream.Now()
	if shared, state := n.SharedLimit(); !shared || state != "starting" {
		t.Fatalf("SharedLimit = %v, %q, want true, starting", shared, state)
	}
	if _, due, _ := n.LeaseDue(now); due {
		t.Fatal("a node nobody asked for is due a lease")
	}
	if n.TryAcquireCalls(now, 1) {
		t.Fatal("a call went before any lease")
	}
	if wants.Load() == 0 {
		t.Fatal("a refused call did not wake the leasing loop")
	}
	if d := n.Wait(now, 1); d < 39*time.Millisecond || d > 41*time.Millisecond {
		t.Fatalf("Wait without tokens = %s, want one token's time at 25/s, 40ms", d)
	}
	ask, due, _ := n.LeaseDue(now)
	if !due || ask.Tokens != 5 || ask.Rate != 25 || ask.Burst != 50 || ask.Cool != 0 {
		t.Fatalf("LeaseDue = %+v, %v; want 5 tokens of 25/s, 50", ask, due)
	}
	if !n.Leased(now, upstream.LeaseAnswer{Granted: 5}) {
		t.Fatal("tokens arrived but the waiting calls are not woken")
	}
	if _, state := n.SharedLimit(); state != "ok" {
		t.Fatalf("state after a lease = %q, want ok", state)
	}
	before := wants.Load()
	for i := range 3 {
		if !n.TryAcquireCalls(now, 1) {
			t.Fatalf("call %d of a lease of 5 refused", i)
		}
		n.Release()
	}
	if wants.Load() != before {
		t.Fatal("the loop was woken with 2 tokens left of 5")
	}
	if !n.TryAcquireCalls(now, 1) {
		t.Fatal("call 4 refused")
	}
	n.Release()
	if wants.Load() == before {
		t.Fatal("1 token left of 5 and no next chunk asked")
	}
	if ask, due, _ := n.LeaseDue(now); !due || ask.Tokens != 4 {
		t.Fatalf("LeaseDue with 1 left = %+v, %v; want 4 more (a chunk held)", ask, due)
	}
	if !n.TryAcquireCalls(now, 1) || n.TryAcquireCalls(now, 1) {
		t.Fatal("a lease of 5 did not give exactly 5 calls")
	}
}

// Tokens not spent within the lease's life are forgotten: a replica does
// not hoard what the others could use.
func TestLeaseExpires(t *testing.T) {
	n, _ := sharedNode(t)
	now := upstream.Now()
	n.Wait(now, 1)
	n.Leased(now, upstream.LeaseAnswer{Granted: 5})
	late := now + int64(upstream.LeaseLifeMin)
	if n.TryAcquireCalls(late, 1) {
		t.Fatal("a token was spent past the lease's life")
	}
	if n.Wait(late, 1) == 0 {
		t.Fatal("Wait is 0 with every token expired")
	}
	// A new lease adds to nothing expired.
	n.Leased(late, upstream.LeaseAnswer{Granted: 1})
	if !n.TryAcquireCalls(late, 1) || n.TryAcquireCalls(late, 1) {
		t.Fatal("expired tokens came back with a new lease")
	}
}

// A batch asks for all its calls at once (up to the burst); the shared
// bucket's refusal sets Wait, and the loop does not ask again before it.
func TestLeaseBatchAndRetry(t *testing.T) {
	n, _ := sharedNode(t)
	now := upstream.Now()
	if d := n.Wait(now, 20); d == 0 {
		t.Fatal("a batch of 20 may go with no tokens")
	}
	ask, due, _ := n.LeaseDue(now)
	if !due || ask.Tokens != 20 {
		t.Fatalf("LeaseDue for a batch of 20 = %+v, %v", ask, due)
	}
	n.Leased(now, upstream.LeaseAnswer{Granted: 0, Retry: 300 * time.Millisecond})
	if d := n.Wait(now, 20); d < 300*time.Millisecond {
		t.Fatalf("Wait after the bucket said 300ms = %s", d)
	}
	if _, due, next := n.LeaseDue(now); due || next != now+int64(upstream.LeasePoll) {
		t.Fatalf("LeaseDue before the retry = due %v, next %d; want the poll at %d", due, next, now+int64(upstream.LeasePoll))
	}
	at := now + int64(300*time.Millisecond)
	if ask, due, _ := n.LeaseDue(at); !due || ask.Tokens != 20 {
		t.Fatalf("LeaseDue at the retry = %+v, %v", ask, due)
	}
	n.Leased(at, upstream.LeaseAnswer{Granted: 20})
	if !n.TryAcquireCalls(at, 20) {
		t.Fatal("the batch did not go with its 20 tokens")
	}
	// A batch over the burst goes with a burst and owes the rest to the
	// shared bucket (charged there, so that every replica waits for it),
	// not to this replica alone.
	n.Leased(at, upstream.LeaseAnswer{Granted: 50})
	if !n.TryAcquireCalls(at, 60) {
		t.Fatal("a batch of 60 on a burst of 50 never fits")
	}
	ask, due, _ = n.LeaseDue(at)
	if !due || ask.Owe != 10 || ask.Tokens != 5 {
		t.Fatalf("after owing 10, the next ask = %+v (due %v), want 10 owed and a chunk of 5 tokens", ask, due)
	}
	if ask, _, _ := n.LeaseDue(at); ask.Owe != 0 {
		t.Fatalf("the debt was asked twice: %+v", ask)
	}
}

// A cool-down met here is told to the other replicas at the next ask; one
// they met arrives with an answer and cools the node here.
func TestLeaseCoolDowns(t *testing.T) {
	var cooled atomic.Int64
	n := upstream.New(upstream.Spec{Name: "n", URL: "http://127.0.0.1:1",
		RateLimit: upstream.RateLimit{Rate: 25, Burst: 50, Shared: true}, WantLease: func() {},
		OnCoolDown: func(_ *upstream.Node, _ time.Duration, told bool) {
			if told {
				cooled.Add(1)
			}
		}})
	now := upstream.Now()
	n.Leased(now, upstream.LeaseAnswer{Granted: 5, Cool: 2 * time.Second})
	if d := n.CoolingDown(); d < time.Second || d > 2*time.Second {
		t.Fatalf("cooling down %s after another replica's 2s", d)
	}
	if cooled.Load() != 1 {
		t.Fatalf("OnCoolDown called %d times as told by another replica, want 1", cooled.Load())
	}
	if _, due, _ := n.LeaseDue(now); due {
		t.Fatal("a cool-down learnt from the others is told back")
	}
	if n.TryAcquireCalls(upstream.Now(), 1) {
		t.Fatal("a call went while another replica's cool-down holds")
	}

	m, _ := sharedNode(t)
	m.CoolDown(3 * time.Second)
	ask, due, _ := m.LeaseDue(upstream.Now())
	if !due || ask.Cool < 2*time.Second || ask.Cool > 3*time.Second {
		t.Fatalf("LeaseDue after a 429 = %+v, %v; want about 3s to tell", ask, due)
	}
	if _, due, _ := m.LeaseDue(upstream.Now()); due {
		t.Fatal("a cool-down was told twice")
	}
	m.LeaseFailed(upstream.Now(), ask)
	if ask, due, _ := m.LeaseDue(upstream.Now()); !due || ask.Cool == 0 {
		t.Fatal("a cool-down whose telling failed is not told again")
	}
}

// While the shared bucket cannot be reached the node counts on its own
// bucket at the configured rate; the next answer makes it shared again.
func TestLeaseFallback(t *testing.T) {
	n, _ := sharedNode(t)
	now := upstream.Now()
	if !n.LeaseFailed(now, upstream.LeaseAsk{}) {
		t.Fatal("leaving the shared bucket does not wake the waiting calls")
	}
	if _, state := n.SharedLimit(); state != "fallback" {
		t.Fatalf("state = %q, want fallback", state)
	}
	for i := range 50 {
		if !n.TryAcquireCalls(now, 1) {
			t.Fatalf("fallback: call %d of a burst of 50 refused", i)
		}
		n.Release()
	}
	if n.TryAcquireCalls(now, 1) {
		t.Fatal("fallback: the local bucket let more than its burst go")
	}
	n.Leased(now, upstream.LeaseAnswer{Granted: 5})
	if _, state := n.SharedLimit(); state != "ok" {
		t.Fatalf("state after an answer = %q, want ok", state)
	}
	if !n.TryAcquireCalls(now, 1) {
		t.Fatal("a leased token was refused after the fallback")
	}
}

// A node idle for long is neither polled nor leased for; one in use is
// polled every LeasePoll for the others' cool-downs.
func TestLeasePolls(t *testing.T) {
	n, _ := sharedNode(t)
	now := upstream.Now()
	n.Wait(now, 1)
	n.Leased(now, upstream.LeaseAnswer{Granted: 5})
	if _, due, next := n.LeaseDue(now); due || next != now+int64(upstream.LeasePoll) {
		t.Fatalf("in use with tokens: due %v, next %d; want a poll at %d", due, next, now+int64(upstream.LeasePoll))
	}
	if ask, due, _ := n.LeaseDue(now + int64(upstream.LeasePoll)); !due || ask.Tokens != 0 {
		t.Fatalf("poll = %+v, %v; want an ask of no token", ask, due)
	}
	idle := now + int64(time.Minute)
	if _, due, next := n.LeaseDue(idle); due || next != 0 {
		t.Fatalf("idle: due %v, next %d; want nothing", due, next)
	}
}

// A reload keeps what a node holds of its shared limit; one without
// Shared has no lease.
func TestLeaseInherit(t *testing.T) {
	old, _ := sharedNode(t)
	now := upstream.Now()
	old.Wait(now, 1)
	old.Leased(now, upstream.LeaseAnswer{Granted: 2})
	n := upstream.New(upstream.Spec{Name: "n", URL: "http://127.0.0.1:1",
		RateLimit: upstream.RateLimit{Rate: 30, Burst: 60, Shared: true}, WantLease: func() {}})
	n.Inherit(old)
	if _, state := n.SharedLimit(); state != "ok" {
		t.Fatalf("state after a reload = %q, want ok", state)
	}
	if !n.TryAcquireCalls(now, 2) || n.TryAcquireCalls(now, 1) {
		t.Fatal("the 2 tokens held did not carry over a reload, or more did")
	}
	free := upstream.New(upstream.Spec{Name: "n", URL: "http://127.0.0.1:1", RateLimit: upstream.RateLimit{Rate: 30}})
	if shared, _ := free.SharedLimit(); shared {
		t.Fatal("a node without shared reports a shared limit")
	}
	if _, due, _ := free.LeaseDue(now); due {
		t.Fatal("a node without shared is due a lease")
	}
}

// A node counting on its own bucket asks the shared one again every
// LeaseRetry, whether its calls ask for tokens or not (none may, a local
// bucket with room serves them), and is shared again at the first answer.
func TestLeaseRetriesAfterFallback(t *testing.T) {
	n, _ := sharedNode(t)
	now := upstream.Now()
	n.LeaseFailed(now, upstream.LeaseAsk{})
	if _, due, next := n.LeaseDue(now); due || next != now+int64(upstream.LeaseRetry) {
		t.Fatalf("just after a failure: due %v, next %d; want the next try at %d", due, next, now+int64(upstream.LeaseRetry))
	}
	// Calls on the local bucket, then a quiet minute: still asked again.
	if !n.TryAcquireCalls(now, 1) {
		t.Fatal("fallback: a call refused")
	}
	n.Release()
	later := now + int64(time.Minute)
	if _, due, _ := n.LeaseDue(later); !due {
		t.Fatal("a node in fallback is not asked again after a quiet minute: it would stay on its own bucket for good")
	}
	n.Leased(later, upstream.LeaseAnswer{})
	if _, state := n.SharedLimit(); state != "ok" {
		t.Fatalf("state after the shared bucket answered = %q, want ok", state)
	}
}
