package engine

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"
)

func threeFakes(t *testing.T) []*fakeEL {
	return []*fakeEL{newFakeEL(t), newFakeEL(t), newFakeEL(t)}
}

func TestFanOutAllValid(t *testing.T) {
	t.Parallel()
	fakes := threeFakes(t)
	// Each fake checks its own secret, which differs from the CL's: the
	// answer is VALID only if every node got a token minted with its key.
	for _, f := range fakes {
		f.on("engine_newPayloadV4", answer{result: statusJSON("VALID", hashA)})
	}
	tm := newTestMux(t, fakes)
	got := tm.call(t, "engine_newPayloadV4", newPayloadParams)
	if string(got) != statusJSON("VALID", hashA) {
		t.Fatalf("result %s", got)
	}
	for i, f := range fakes {
		calls := f.callsOf("engine_newPayloadV4")
		if len(calls) != 1 || string(calls[0]) != newPayloadParams {
			t.Fatalf("node %d got params %s, want them unchanged", i, calls)
		}
	}
}

func TestFanOutInvalidBlockHashPassesThrough(t *testing.T) {
	t.Parallel()
	fakes := threeFakes(t)
	ibh := `{"status":"INVALID_BLOCK_HASH","latestValidHash":null,"validationError":"block hash mismatch"}`
	fakes[0].on("engine_newPayloadV1", answer{result: ibh})
	fakes[1].on("engine_newPayloadV1", answer{result: ibh})
	fakes[2].on("engine_newPayloadV1", answer{result: statusJSON("SYNCING", "")})
	tm := newTestMux(t, fakes)
	if got := tm.call(t, "engine_newPayloadV1", `[{}]`); string(got) != ibh {
		t.Fatalf("result %s, want %s byte for byte", got, ibh)
	}
}

func TestFanOutDisagreement(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		answers []string
		want    string
	}{
		{"one invalid vetoes", []string{statusJSON("VALID", hashA), statusJSON("VALID", hashA), statusJSON("INVALID", hashB)}, statusJSON("SYNCING", "")},
		{"majority invalid", []string{statusJSON("INVALID", hashB), statusJSON("VALID", hashA), statusJSON("INVALID", hashB)}, statusJSON("INVALID", hashB)},
		{"majority syncing", []string{statusJSON("SYNCING", ""), statusJSON("VALID", hashA), statusJSON("SYNCING", "")}, statusJSON("SYNCING", "")},
		{"three different", []string{statusJSON("ACCEPTED", ""), statusJSON("VALID", hashA), statusJSON("VALID", hashB)}, statusJSON("SYNCING", "")},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			fakes := threeFakes(t)
			for i, f := range fakes {
				f.on("engine_newPayloadV4", answer{result: tc.answers[i]})
			}
			tm := newTestMux(t, fakes)
			if got := tm.call(t, "engine_newPayloadV4", newPayloadParams); string(got) != tc.want {
				t.Fatalf("result %s, want %s", got, tc.want)
			}
		})
	}
}

func TestFanOutGarbageIsNoVote(t *testing.T) {
	t.Parallel()
	garbage := []answer{
		{body: "<html>oops</html>"},
		{result: `"VALID"`},
		{result: `{"status":"GREAT","latestValidHash":null}`},
		{result: `{"status":"VALID","latestValidHash":12}`},
		{status: 500},
		{body: `{"jsonrpc":"2.0","id":1}`},
	}
	for _, g := range garbage {
		fakes := threeFakes(t)
		fakes[0].on("engine_newPayloadV4", answer{result: statusJSON("VALID", hashA)})
		fakes[1].on("engine_newPayloadV4", g)
		fakes[2].on("engine_newPayloadV4", answer{result: statusJSON("VALID", hashA)})
		tm := newTestMux(t, fakes)
		if got := tm.call(t, "engine_newPayloadV4", newPayloadParams); string(got) != statusJSON("VALID", hashA) {
			t.Fatalf("garbage %+v: result %s, want VALID from the two others", g, got)
		}
	}
}

// TestFanOutHangingNode: a node that never answers costs its timeout once,
// then it stops voting; the probe its timeout asks for (run here by hand)
// finds it dead, and it is out of the fan-out.
func TestFanOutHangingNode(t *testing.T) {
	t.Parallel()
	fakes := threeFakes(t)
	hang := make(chan struct{})
	t.Cleanup(func() { close(hang) })
	fakes[0].on("engine_forkchoiceUpdatedV3", answer{result: fcuJSON("VALID", hashA, "")})
	fakes[1].on("engine_forkchoiceUpdatedV3", answer{hold: hang})
	fakes[1].on("eth_syncing", answer{hold: hang})
	fakes[2].on("engine_forkchoiceUpdatedV3", answer{result: fcuJSON("VALID", hashA, "")})
	tm := newTestMux(t, fakes, func(c *Config) { c.Nodes[1].Timeout = "300ms" })
	if got := tm.call(t, "engine_forkchoiceUpdatedV3", fcuParams(false)); string(got) != fcuJSON("VALID", hashA, "") {
		t.Fatalf("result %s", got)
	}
	waitVotes(t, tm.nodeList()[1], false) // its own timeout may land just after the answer
	tm.recheck(t.Context())
	if s := tm.nodeList()[1].getState(); s != stateDead {
		t.Fatalf("after a probe the hanging node is %s, want dead", s)
	}
	if got := tm.call(t, "engine_forkchoiceUpdatedV3", fcuParams(false)); string(got) != fcuJSON("VALID", hashA, "") {
		t.Fatalf("second result %s", got)
	}
	if n := len(fakes[1].callsOf("engine_forkchoiceUpdatedV3")); n != 1 {
		t.Fatalf("dead node got %d calls, want 1", n)
	}
}

// TestFanOutEarlyAnswer: with two INVALID of three the answer cannot change,
// so it goes back while the third node still works on the call.
func TestFanOutEarlyAnswer(t *testing.T) {
	t.Parallel()
	fakes := threeFakes(t)
	slow := make(chan struct{})
	inv := statusJSON("INVALID", hashB)
	fakes[0].on("engine_newPayloadV4", answer{result: inv})
	fakes[1].on("engine_newPayloadV4", answer{result: inv})
	fakes[2].on("engine_newPayloadV4", answer{result: statusJSON("VALID", hashA), hold: slow})
	tm := newTestMux(t, fakes, func(c *Config) { c.NodeTimeout = "30s" })
	got := tm.call(t, "engine_newPayloadV4", newPayloadParams)
	if string(got) != inv {
		t.Fatalf("result %s", got)
	}
	// The slow node cannot have answered: it is held until now. It still
	// gets the call.
	waitCalls(t, fakes[2], "engine_newPayloadV4", 1)
	close(slow)
}

// TestOrderKeptPerNode: a slow do-not-use node never delays the answer, gets
// every call, and gets them in the order the gateway received them.
func TestOrderKeptPerNode(t *testing.T) {
	t.Parallel()
	fakes := threeFakes(t)
	release := make(chan struct{})
	for _, f := range fakes[:2] {
		f.on("engine_forkchoiceUpdatedV3", answer{result: fcuJSON("VALID", hashA, "")})
	}
	first := true
	fakes[2].onFunc("engine_forkchoiceUpdatedV3", func(json.RawMessage) answer {
		if first {
			first = false
			return answer{result: fcuJSON("INVALID", hashB, ""), hold: release}
		}
		return answer{result: fcuJSON("INVALID", hashB, "")}
	})
	tm := newTestMux(t, fakes, func(c *Config) { c.Nodes[2].DoNotUse = true })
	p1 := strings.Replace(fcuParams(false), "null", `{"n":1}`, 1)
	p2 := strings.Replace(fcuParams(false), "null", `{"n":2}`, 1)
	for i, p := range []string{p1, p2} {
		// The do-not-use node's INVALID is no veto.
		if got := tm.call(t, "engine_forkchoiceUpdatedV3", p); string(got) != fcuJSON("VALID", hashA, "") {
			t.Fatalf("result %s", got)
		}
		if i == 0 {
			waitCalls(t, fakes[2], "engine_forkchoiceUpdatedV3", 1) // now held on p1
		}
	}
	if calls := fakes[2].callsOf("engine_forkchoiceUpdatedV3"); len(calls) != 1 {
		t.Fatalf("slow node got %d calls while busy, want 1: the second must wait for the first", len(calls))
	}
	close(release)
	calls := waitCalls(t, fakes[2], "engine_forkchoiceUpdatedV3", 2)
	if string(calls[0]) != p1 || string(calls[1]) != p2 {
		t.Fatalf("order %s, want p1 then p2", calls)
	}
}

// TestQueueFullMarksDead: a node that stops answering fills its bounded
// queue; the overflow never blocks the others and takes the node out.
func TestQueueFullMarksDead(t *testing.T) {
	t.Parallel()
	fakes := []*fakeEL{newFakeEL(t), newFakeEL(t)}
	hold := make(chan struct{})
	t.Cleanup(func() { close(hold) })
	fakes[0].on("engine_forkchoiceUpdatedV3", answer{result: fcuJSON("VALID", hashA, "")})
	fakes[1].on("engine_forkchoiceUpdatedV3", answer{hold: hold})
	tm := newTestMux(t, fakes, func(c *Config) { c.Nodes[1].DoNotUse = true; c.NodeTimeout = "1m" })
	for i := 0; tm.nodeList()[1].getState() != stateDead; i++ {
		if i > queueLen+2 {
			t.Fatalf("node still %s after %d calls", tm.nodeList()[1].getState(), i)
		}
		if got := tm.call(t, "engine_forkchoiceUpdatedV3", fcuParams(false)); string(got) != fcuJSON("VALID", hashA, "") {
			t.Fatalf("call %d: %s", i, got)
		}
	}
}

func waitCalls(t *testing.T, f *fakeEL, method string, n int) []json.RawMessage {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		calls := f.callsOf(method)
		if len(calls) >= n {
			return calls
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: %d calls, want %d", method, len(calls), n)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestSyncingShapes(t *testing.T) {
	t.Parallel()
	f := newFakeEL(t)
	f.setSyncing("true")
	tm := newTestMux(t, []*fakeEL{f})
	tm.recheck(t.Context()) // the only node syncs: no voter
	for _, m := range []string{"engine_newPayloadV1", "engine_newPayloadV2", "engine_newPayloadV3", "engine_newPayloadV4", "engine_newPayloadV5"} {
		if got := tm.call(t, m, newPayloadParams); string(got) != string(syncingStatus) {
			t.Errorf("%s: %s", m, got)
		}
	}
	for _, m := range []string{"engine_forkchoiceUpdatedV1", "engine_forkchoiceUpdatedV2", "engine_forkchoiceUpdatedV3", "engine_forkchoiceUpdatedV4"} {
		got := tm.call(t, m, fcuParams(true))
		var r struct {
			PayloadStatus struct{ Status string }
			PayloadID     *string
		}
		if err := json.Unmarshal(got, &r); err != nil || r.PayloadStatus.Status != "SYNCING" || r.PayloadID != nil ||
			!strings.Contains(string(got), `"payloadId":null`) {
			t.Errorf("%s: %s", m, got)
		}
	}
	waitCalls(t, f, "engine_newPayloadV4", 1) // a syncing node still gets the calls, to stay in step
}

func TestErrorPassesThroughWhenNobodyVotes(t *testing.T) {
	t.Parallel()
	fakes := threeFakes(t)
	e := `{"code":-38003,"message":"Invalid payload attributes","data":{"err":"timestamp too low"}}`
	for _, f := range fakes {
		f.on("engine_forkchoiceUpdatedV3", answer{rpcErr: e})
	}
	tm := newTestMux(t, fakes)
	res := tm.callRaw(t, "engine_forkchoiceUpdatedV3", fcuParams(true))
	if string(res.Error) != e {
		t.Fatalf("error %s, want %s byte for byte", res.Error, e)
	}
}

// BenchmarkFanOutNewPayload measures one newPayload through the quorum path
// against three instant fake nodes (no client hop): what the gateway costs
// per call in CPU and allocations, apart from the nodes.
func BenchmarkFanOutNewPayload(b *testing.B) {
	fakes := []*fakeEL{newFakeEL(b), newFakeEL(b), newFakeEL(b)}
	for _, f := range fakes {
		f.on("engine_newPayloadV4", answer{result: statusJSON("VALID", hashA)})
	}
	tm := newTestMux(b, fakes)
	req := request{ID: json.RawMessage("1"), Method: "engine_newPayloadV4", Params: json.RawMessage(newPayloadParams)}
	b.ReportAllocs()
	for b.Loop() {
		if rep := tm.dispatch(context.Background(), req); rep.errRaw != nil {
			b.Fatal(string(rep.errRaw))
		}
	}
}
