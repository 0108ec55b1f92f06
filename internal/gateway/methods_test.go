package gateway_test

import (
	"strings"
	"testing"
)

// A method no node serves costs one try per node the first time (each
// node is asked once, never a second round) and one try from then on;
// the answer is the node's own, single or in a batch.
func TestMethodNoNodeServesIsTriedOncePerNode(t *testing.T) {
	f := fakes(t, 3)
	g := startGateway(t, netYAML("    cache: false\n    rpc_retries: 5\n", nodesYAML("local_nodes", f...)))
	waitFor(t, "all nodes eligible", func() bool { return eligibleNodes(g, "mainnet") == 3 })
	calls := func() int64 { return f[0].Calls("foo_bar") + f[1].Calls("foo_bar") + f[2].Calls("foo_bar") }
	want := `{"jsonrpc":"2.0","id":1,"error":{"code":-32601,"message":"the method foo_bar does not exist/is not available"}}`

	r := post(t, g.RPCURL()+"/mainnet", `{"jsonrpc":"2.0","id":1,"method":"foo_bar","params":[]}`)
	if r.status != 200 || strings.TrimSpace(r.body) != want {
		t.Fatalf("first call: %d %s, want %s", r.status, r.body, want)
	}
	if n := calls(); n != 3 {
		t.Fatalf("first call reached the nodes %d times, want 3 (each node once)", n)
	}
	r = post(t, g.RPCURL()+"/mainnet", `[{"jsonrpc":"2.0","id":1,"method":"foo_bar","params":[]}]`)
	if r.status != 200 || strings.TrimSpace(r.body) != "["+want+"]" {
		t.Fatalf("in a batch: %d %s, want [%s]", r.status, r.body, want)
	}
	if n := calls(); n != 4 {
		t.Fatalf("after the batch the nodes got %d calls, want 4 (every node learned: one try)", n)
	}
}
