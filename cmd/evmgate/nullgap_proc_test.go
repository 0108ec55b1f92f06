package main

import (
	"strings"
	"testing"
)

// A node that claims a block (its head is past it) but answers null for
// it has a gap, as a provider whose backends are out of step does: the
// call goes to another node, and the null is the answer only when no node
// has the block. A block past every node's head is null where it goes,
// answered at once: clients poll for the next block that way.
func TestNullForAClaimedBlockAsProcess(t *testing.T) {
	f := fakeNodes(t, 2, 1)
	const method = "eth_getBlockTransactionCountByNumber"
	f[0].SetResult(method, `null`)
	f[1].SetResult(method, `"0x5"`)
	_, rpcBase, _ := twoNodeProc(t, "mainnet", 1, "    cache: false\n    strategy: round_robin\n", f[0], f[1])
	url := rpcBase + "/mainnet"
	count := func(block string) string {
		return `{"jsonrpc":"2.0","id":7,"method":"` + method + `","params":["` + block + `"]}`
	}
	for i := range 6 {
		if code, body := rpc(t, url, count("0x10")); code != 200 || !strings.Contains(body, `"result":"0x5"`) {
			t.Fatalf("call %d for a block both nodes claim: %d %s, want b's answer", i, code, body)
		}
	}
	if f[0].Calls(method) == 0 {
		t.Fatal("round_robin never sent the call to a: the gap was not met")
	}

	f[1].SetResult(method, `null`)
	before := f[0].Calls(method) + f[1].Calls(method)
	if code, body := rpc(t, url, count("0x200")); code != 200 || !strings.Contains(body, `"id":7,"result":null`) {
		t.Fatalf("a block past every head: %d %s, want null", code, body)
	}
	if got := f[0].Calls(method) + f[1].Calls(method) - before; got != 1 {
		t.Errorf("a block past every head was asked %d times, want once", got)
	}
	if code, body := rpc(t, url, count("0x10")); code != 200 || !strings.Contains(body, `"id":7,"result":null`) {
		t.Fatalf("a block every node answers null for: %d %s, want the null", code, body)
	}
}
