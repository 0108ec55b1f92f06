package engine

import "testing"

func TestOverview(t *testing.T) {
	t.Parallel()
	fakes := threeFakes(t)
	fakes[1].setSyncing(`{"startingBlock":"0x0","currentBlock":"0x1","highestBlock":"0x9"}`)
	fakes[2].srv.Close()
	for _, f := range fakes[:2] {
		f.on("engine_newPayloadV4", answer{result: statusJSON("VALID", hashA)})
	}
	tm := newTestMux(t, fakes)
	tm.recheck(t.Context())
	tm.call(t, "engine_newPayloadV4", newPayloadParams)

	o := tm.Overview()
	if o.Primary != fakes[0].srv.URL {
		t.Errorf("primary %q, want %q", o.Primary, fakes[0].srv.URL)
	}
	want := []struct {
		state string
		votes bool
	}{{"alive", true}, {"syncing", false}, {"dead", false}}
	if len(o.Nodes) != len(want) {
		t.Fatalf("nodes %+v", o.Nodes)
	}
	for i, w := range want {
		if n := o.Nodes[i]; n.Name != fakes[i].srv.URL || n.State != w.state || n.Votes != w.votes {
			t.Errorf("node %d: %+v, want %s, votes %v", i, n, w.state, w.votes)
		}
	}
	if o.Nodes[0].RTTMS <= 0 {
		t.Errorf("alive node without a round trip: %+v", o.Nodes[0])
	}
	if o.Votes["VALID"] != 1 || o.Disagreements != 0 {
		t.Errorf("votes %v, disagreements %d: want one VALID", o.Votes, o.Disagreements)
	}
}
