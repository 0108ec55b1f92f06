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

// A node's methods list reloads: denied methods stop reaching it, and the
// methods it was learned not to serve are kept across the change.
func TestNodeMethodsReload(t *testing.T) {
	f := fakes(t, 2)
	for _, n := range f {
		n.SetResult("trace_block", "[]")
	}
	yaml := func(extra string) string {
		return netYAML("    cache: false\n    strategy: round_robin\n",
			nodeYAML("local_nodes", "", f[0])+nodeYAML("local_nodes", extra, f[1])[len("    local_nodes:\n"):])
	}
	g := startGateway(t, yaml(""))
	waitFor(t, "both nodes eligible", func() bool { return eligibleNodes(g, "mainnet") == 2 })
	post(t, g.RPCURL()+"/mainnet", `{"jsonrpc":"2.0","id":1,"method":"foo_bar","params":[]}`)
	reloadTo(t, g, yaml("        methods: {deny: [\"trace_*\"]}\n"))
	before := f[1].Calls("trace_block")
	for range 10 {
		if r := post(t, g.RPCURL()+"/mainnet", `{"jsonrpc":"2.0","id":1,"method":"trace_block","params":["0x1"]}`); r.status != 200 || !strings.Contains(r.body, `"result":[]`) {
			t.Fatalf("trace_block: %d %s", r.status, r.body)
		}
	}
	if n := f[1].Calls("trace_block") - before; n != 0 {
		t.Fatalf("the node whose reloaded methods list denies trace_* got %d calls", n)
	}
	for _, n := range g.Status().Networks[0].Nodes {
		if len(n.MissingMethods) != 1 || n.MissingMethods[0] != "foo_bar" {
			t.Fatalf("node %s missing_methods after reload = %v, want [foo_bar]", n.Name, n.MissingMethods)
		}
	}
}
