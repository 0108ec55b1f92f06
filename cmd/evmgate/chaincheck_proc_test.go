package main

import (
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// A serving node that is re-pointed at another chain without a call
// meeting it (no traffic; a restart between two probes) is found by its
// probes, which ask its chain id again from time to time, and it serves no
// call of the network while its chain is not the network's.
func TestChainIDCheckedAgainAsProcess(t *testing.T) {
	f := fakeNodes(t, 2, 137)
	_, rpcBase, base := twoNodeProc(t, "polygon", 137, "    local_poll_interval: 100ms\n    cache: false\n", f[0], f[1])
	f[1].SetChainID(1)
	eventually(t, time.Minute, "b to be found on chain 1", func() bool {
		return nodeIn(t, statusOf(t, base)["polygon"], "b").State == "wrong_chain"
	})
	before := f[1].Calls("eth_getBalance")
	for i := range 10 {
		if code, body := rpc(t, rpcBase+"/polygon", `{"jsonrpc":"2.0","id":1,"method":"eth_getBalance","params":["0x01","latest"]}`); code != 200 {
			t.Fatalf("call %d: %d %s", i, code, body)
		}
	}
	if got := f[1].Calls("eth_getBalance") - before; got != 0 {
		t.Errorf("the node on chain 1 served %d calls of chain 137", got)
	}
}

// A probe that meets a refused connection marks the node down at once, as
// a call does, not after down_after failed probes: a node that is gone (or
// restarting, perhaps on another chain) serves nothing until a probe has
// checked it again.
func TestRefusedProbeMarksDownAsProcess(t *testing.T) {
	f := fakeNodes(t, 2, 1)
	_, _, base := twoNodeProc(t, "mainnet", 1, "    local_poll_interval: 2s\n    down_after: 5\n", f[0], f[1])
	f[1].Close()
	eventually(t, time.Minute, "b to be marked down", func() bool {
		return nodeIn(t, statusOf(t, base)["mainnet"], "b").State == "down"
	})
	_, m := get(t, base+"/metrics")
	probeFails := regexp.MustCompile(`loadbalancer_node_errors_total\{network="mainnet",rpc_endpoint="b",type="probe"\} (\d+)`).FindStringSubmatch(m)
	if probeFails == nil {
		t.Fatalf("no failed probe of b counted:\n%s", grepLines(m, "loadbalancer_node_errors_total"))
	}
	if n, _ := strconv.Atoi(probeFails[1]); n >= 5 {
		t.Errorf("b was marked down after %d failed probes, want at the first refused one (down_after is 5)", n)
	}
	if r := nodeIn(t, statusOf(t, base)["mainnet"], "b").Reason; !strings.Contains(r, "refused") && !strings.Contains(r, "dial") || strings.HasPrefix(r, "b: ") {
		t.Errorf("b's reason %q does not say the connection was refused, or names b again", r)
	}
}
