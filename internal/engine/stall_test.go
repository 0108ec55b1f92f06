package engine

import (
	"context"
	"errors"
	"testing"
	"time"
)

// hangEngine makes f's newPayloadV4 and forkchoiceUpdatedV3 wait for
// release (or for the gateway to give up), while eth_syncing answers false.
func hangEngine(f *fakeEL, release chan struct{}) {
	f.on("engine_newPayloadV4", answer{result: statusJSON("VALID", hashA), hold: release})
	f.on("engine_forkchoiceUpdatedV3", answer{result: fcuJSON("VALID", hashA, ""), hold: release})
}

// timedCall sends one call and returns its result and how long it took.
func timedCall(t *testing.T, tm *testMux, method, params string) (string, time.Duration) {
	t.Helper()
	start := time.Now()
	got := tm.call(t, method, params)
	return string(got), time.Since(start)
}

// waitVotes waits until n votes (or not), as its queue goroutine decides.
func waitVotes(t *testing.T, n *node, want bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for n.votes() != want {
		if time.Now().After(deadline) {
			t.Fatalf("node %s votes=%v (streak %d), want %v", n.name, n.votes(), n.streak.Load(), want)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestStalledNodeNotWaited: a node whose engine calls hang while it answers
// eth_syncing costs the consensus client its timeout once; after that it is
// alive but stalled: it still gets every call, in order, yet the answer
// comes from the others at once, a probe does not restore its vote, and it
// is no longer the first choice for single-node calls. When it answers an
// ordered call again it votes again, so its INVALID vetoes once more.
func TestStalledNodeNotWaited(t *testing.T) {
	t.Parallel()
	const timeout = 3 * time.Second
	fakes := threeFakes(t)
	for _, f := range []*fakeEL{fakes[0], fakes[2]} {
		f.on("engine_newPayloadV4", answer{result: statusJSON("VALID", hashA)})
		f.on("engine_forkchoiceUpdatedV3", answer{result: fcuJSON("VALID", hashA, "")})
	}
	release := make(chan struct{})
	hangEngine(fakes[1], release)
	tm := newTestMux(t, fakes, func(c *Config) { c.NodeTimeout = timeout.String(); c.RecheckInterval = "1h" })
	hung := tm.nodeList()[1]

	valid := statusJSON("VALID", hashA)
	if got, took := timedCall(t, tm, "engine_newPayloadV4", newPayloadParams); got != valid || took < timeout {
		t.Fatalf("first call: %s after %v, want VALID after the hung node's %v", got, took, timeout)
	}
	waitVotes(t, hung, false)
	tm.recheck(t.Context()) // eth_syncing answers: alive, but still not voting
	if s := hung.getState(); s != stateAlive || hung.votes() {
		t.Fatalf("after a probe the hung node is %s, votes=%v; want alive and not voting", s, hung.votes())
	}
	if r := tm.ranked(); r[len(r)-1] != hung || tm.primary() == hung {
		t.Fatalf("the stalled node ranks %v for single-node calls, want last", r)
	}
	for i, c := range []struct{ method, params, want string }{
		{"engine_forkchoiceUpdatedV3", fcuParams(false), fcuJSON("VALID", hashA, "")},
		{"engine_newPayloadV4", newPayloadParams, valid},
		{"engine_forkchoiceUpdatedV3", fcuParams(false), fcuJSON("VALID", hashA, "")},
	} {
		if got, took := timedCall(t, tm, c.method, c.params); got != c.want || took >= timeout/2 {
			t.Fatalf("call %d after the stall: %s after %v, want %s under %v", i, got, took, c.want, timeout/2)
		}
	}
	waitCalls(t, fakes[1], "engine_forkchoiceUpdatedV3", 1) // it gets the calls, one at a time

	// It answers again: the held call goes through in time, and it votes.
	fakes[1].on("engine_newPayloadV4", answer{result: statusJSON("INVALID", hashB)})
	fakes[1].on("engine_forkchoiceUpdatedV3", answer{result: fcuJSON("VALID", hashA, "")})
	close(release)
	waitVotes(t, hung, true)
	if got := tm.call(t, "engine_newPayloadV4", newPayloadParams); string(got) != statusJSON("SYNCING", "") {
		t.Fatalf("newPayload with the restored node answering INVALID: %s, want its veto (SYNCING)", got)
	}
}

// TestStalledNodeEarlyInvalidCounts: a stalled node is not waited for, but
// an INVALID it gives while another voter is still awaited is a vote, and
// vetoes the VALID of the others.
func TestStalledNodeEarlyInvalidCounts(t *testing.T) {
	t.Parallel()
	fakes := threeFakes(t)
	release := make(chan struct{})
	t.Cleanup(func() { close(release) })
	fakes[0].on("engine_newPayloadV4", answer{result: statusJSON("VALID", hashA)})
	fakes[1].on("engine_newPayloadV4", answer{result: statusJSON("INVALID", hashB)})
	fakes[2].on("engine_newPayloadV4", answer{result: statusJSON("VALID", hashA), hold: release})
	tm := newTestMux(t, fakes, func(c *Config) { c.Nodes[2].Timeout = "3s"; c.RecheckInterval = "1h" })
	tm.nodeList()[1].streak.Store(0) // stalled by an earlier call
	if got := tm.call(t, "engine_newPayloadV4", newPayloadParams); string(got) != statusJSON("SYNCING", "") {
		t.Fatalf("result %s, want SYNCING: the stalled node's INVALID came while node 2 was awaited", got)
	}
	if !tm.nodeList()[1].votes() {
		t.Fatal("the stalled node answered in time but does not vote")
	}
}

// TestProbationWait: a node back from a stall is waited for a quarter of its
// timeout only; answers that came in time bring it back to the full wait
// after trustedStreak of them, and a new stall starts over.
func TestProbationWait(t *testing.T) {
	t.Parallel()
	const timeout = 4 * time.Second
	fakes := []*fakeEL{newFakeEL(t), newFakeEL(t)}
	fakes[0].on("engine_newPayloadV4", answer{result: statusJSON("VALID", hashA)})
	slow := make(chan struct{})
	fakes[1].on("engine_newPayloadV4", answer{result: statusJSON("VALID", hashA), hold: slow})
	tm := newTestMux(t, fakes, func(c *Config) { c.NodeTimeout = timeout.String(); c.RecheckInterval = "1h" })
	n := tm.nodeList()[1]
	if n.voteWait() != timeout {
		t.Fatalf("a new node is waited %v, want its timeout %v", n.voteWait(), timeout)
	}
	n.streak.Store(1) // just back from a stall
	got, took := timedCall(t, tm, "engine_newPayloadV4", newPayloadParams)
	if got != statusJSON("VALID", hashA) || took < timeout/4 || took >= timeout/2 {
		t.Fatalf("%s after %v, want VALID after the probation wait %v (and under %v)", got, took, timeout/4, timeout/2)
	}
	close(slow) // it answers within its timeout: the streak grows
	waitStreak(t, n, 2)
	fakes[1].on("engine_newPayloadV4", answer{result: statusJSON("VALID", hashA)})
	for range trustedStreak {
		timedCall(t, tm, "engine_newPayloadV4", newPayloadParams)
	}
	waitStreak(t, n, trustedStreak)
	if n.voteWait() != timeout {
		t.Fatalf("after %d answers in time the node is waited %v, want %v", trustedStreak, n.voteWait(), timeout)
	}
}

func waitStreak(t *testing.T, n *node, want int32) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for n.streak.Load() != want {
		if time.Now().After(deadline) {
			t.Fatalf("node %s streak %d, want %d", n.name, n.streak.Load(), want)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestStallOnlyOnTimeout: a refused call marks a node dead as before (a
// probe brings it back with its vote); only a call left unanswered past the
// node's timeout stalls it, and a cancelled caller is no timeout.
func TestStallOnlyOnTimeout(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := timedOut(ctx, context.Canceled); err != context.Canceled {
		t.Fatalf("a cancelled call: %v, want it unmarked", err)
	}
	ctx, cancel = context.WithTimeout(context.Background(), time.Nanosecond)
	defer cancel()
	<-ctx.Done()
	if err := timedOut(ctx, context.DeadlineExceeded); !errors.Is(err, errNoAnswerInTime) {
		t.Fatalf("a timed-out call: %v, want errNoAnswerInTime", err)
	}

	fakes := []*fakeEL{newFakeEL(t), newFakeEL(t)}
	fakes[0].on("engine_newPayloadV4", answer{result: statusJSON("VALID", hashA)})
	fakes[1].on("engine_newPayloadV4", answer{status: 502})
	tm := newTestMux(t, fakes, func(c *Config) { c.RecheckInterval = "1h" })
	if got := tm.call(t, "engine_newPayloadV4", newPayloadParams); string(got) != statusJSON("VALID", hashA) {
		t.Fatalf("result %s", got)
	}
	n := tm.nodeList()[1]
	waitState(t, n, stateDead)
	if n.stalled() {
		t.Fatal("a node that answered HTTP 502 at once is stalled; want dead only")
	}
	tm.recheck(t.Context())
	if !n.votes() {
		t.Fatalf("after a probe the node is %s, votes=%v; want voting", n.getState(), n.votes())
	}
}
