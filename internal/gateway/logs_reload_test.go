package gateway_test

import (
	"strings"
	"testing"
)

// TestReloadKeepsCacheAndLogsSettings: a reload that keeps a network keeps
// its response cache (what was kept is still a hit) and applies its new
// eth_getLogs settings.
func TestReloadKeepsCacheAndLogsSettings(t *testing.T) {
	f := fakes(t, 1)
	text := netYAML("    max_logs_block_range: 50\n    logs_chunk_blocks: 10\n", nodesYAML("local_nodes", f...))
	g := startGateway(t, text)
	url := g.RPCURL() + "/mainnet"
	waitFor(t, "the finalized block", func() bool { _, ok := g.Finalized("mainnet"); return ok })
	const balance = `{"jsonrpc":"2.0","id":1,"method":"eth_getBalance","params":["0x00000000219ab540356cbb839cbe05303d7705fa","0x10"]}`
	post(t, url, balance)
	if r := post(t, url, balance); r.header.Get("X-Cache") != "HIT" {
		t.Fatalf("before the reload: X-Cache %q", r.header.Get("X-Cache"))
	}
	const logs = `{"jsonrpc":"2.0","id":2,"method":"eth_getLogs","params":[{"fromBlock":"0x1","toBlock":"0x1e"}]}`
	if r := post(t, url, logs); strings.Contains(r.body, "max_logs_block_range") {
		t.Fatalf("30 blocks refused under a limit of 50: %s", r.body)
	}

	reloadTo(t, g, strings.Replace(strings.Replace(text, "max_logs_block_range: 50", "max_logs_block_range: 20", 1),
		"rpc_timeout: 500ms", "rpc_timeout: 600ms", 1))
	if r := post(t, url, balance); r.header.Get("X-Cache") != "HIT" {
		t.Fatalf("after the reload: X-Cache %q, want the kept answer", r.header.Get("X-Cache"))
	}
	if r := post(t, url, logs); !strings.Contains(r.body, "max_logs_block_range of 20") {
		t.Fatalf("after the reload, 30 blocks: %s, want refused under the new limit of 20", r.body)
	}
}
