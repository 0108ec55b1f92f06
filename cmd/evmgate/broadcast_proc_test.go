package main

import (
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// broadcast_transactions, in a running evmgate process: a transaction a
// node accepted reaches every other node whose methods lists admit it, the
// client gets one answer, and /metrics counts the copies. Without it, one
// node gets the transaction.
func TestBroadcastTransactionsAsProcess(t *testing.T) {
	f := fakeNodes(t, 6, 1)
	rpcPort, metricsPort := freePort(t), freePort(t)
	cfg := filepath.Join(t.TempDir(), "evmgate.yaml")
	writeFile(t, cfg, listeners(rpcPort, metricsPort)+"networks:\n"+
		"  - name: mainnet\n    chain_id: 1\n    local_poll_interval: 100ms\n    broadcast_transactions: true\n"+
		"    local_nodes:\n"+
		"      - rpc_endpoint: "+f[0].URL()+"\n        name: a\n"+
		"      - rpc_endpoint: "+f[1].URL()+"\n        name: b\n"+
		"      - rpc_endpoint: "+f[5].URL()+"\n        name: capped\n        rate_limit: {rate: 0.001, burst: 1}\n"+
		"    fallback_nodes:\n"+
		"      - rpc_endpoint: "+f[2].URL()+"\n        name: provider\n        methods: {deny: [eth_sendRawTransaction]}\n"+
		"  - name: single\n    chain_id: 1\n    local_poll_interval: 100ms\n"+
		"    local_nodes:\n"+
		"      - rpc_endpoint: "+f[3].URL()+"\n        name: c\n"+
		"      - rpc_endpoint: "+f[4].URL()+"\n        name: d\n")
	p := startProc(t, nil, "-config", cfg)
	p.waitOutput(p.stderr, "gateway started", 2*time.Minute)
	rpcBase, base := "http://"+addr(rpcPort), "http://"+addr(metricsPort)
	const tx = `{"jsonrpc":"2.0","id":7,"method":"eth_sendRawTransaction","params":["0x02f8700181"]}`
	sent := func(n int) int64 { return f[n].Calls("eth_sendRawTransaction") }

	if code, body := rpc(t, rpcBase+"/mainnet", tx); code != 200 || !strings.Contains(body, `"id":7`) || !strings.Contains(body, `"result":"0xsent"`) {
		t.Fatalf("broadcast network: %d %s", code, body)
	}
	eventually(t, time.Minute, "the transaction to reach the three local nodes", func() bool { return sent(0) == 1 && sent(1) == 1 && sent(5) == 1 })
	eventually(t, time.Minute, "the copies to be counted", func() bool {
		_, m := get(t, base+"/metrics")
		return strings.Contains(m, `evmgate_tx_broadcasts_total{network="mainnet",outcome="accepted"} 2`)
	})
	if sent(2) != 0 {
		t.Errorf("the provider whose methods lists deny eth_sendRawTransaction got %d copies", sent(2))
	}
	// The capped node's one call a thousand seconds is spent: a second
	// transaction (which the nodes take as new) skips it, and the skip is
	// counted.
	for _, n := range f[:3] {
		n.SetResult("eth_sendRawTransaction", `"0xsecond"`)
	}
	f[5].SetResult("eth_sendRawTransaction", `"0xsecond"`)
	if code, body := rpc(t, rpcBase+"/mainnet", tx); code != 200 || !strings.Contains(body, `"result"`) {
		t.Fatalf("second transaction: %d %s", code, body)
	}
	eventually(t, time.Minute, "the skipped copy to be counted", func() bool {
		_, m := get(t, base+"/metrics")
		return strings.Contains(m, `evmgate_tx_broadcasts_total{network="mainnet",outcome="skipped"} 1`)
	})
	if sent(5) != 1 {
		t.Errorf("the capped node got %d transactions, want 1: its rate limit holds for copies too", sent(5))
	}

	if code, body := rpc(t, rpcBase+"/single", tx); code != 200 || !strings.Contains(body, `"result":"0xsent"`) {
		t.Fatalf("network without broadcast: %d %s", code, body)
	}
	// The copies of the first network came after its answer; here there
	// are none: give them the time they would take, then count.
	if code, body := rpc(t, rpcBase+"/single", `{"jsonrpc":"2.0","id":8,"method":"eth_blockNumber","params":[]}`); code != 200 {
		t.Fatalf("eth_blockNumber: %d %s", code, body)
	}
	if got := sent(3) + sent(4); got != 1 {
		t.Errorf("without broadcast_transactions the transaction reached %d nodes, want 1", got)
	}
}
