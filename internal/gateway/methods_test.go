package gateway_test

import (
	"fmt"
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
	retries := func() string { return metricValue(t, g.MetricsURL(), `evmgate_retries_total{network="mainnet"}`) }
	if v := retries(); v != "2" {
		t.Fatalf("evmgate_retries_total = %q after a call tried on three nodes, want 2", v)
	}
	r = post(t, g.RPCURL()+"/mainnet", `[{"jsonrpc":"2.0","id":1,"method":"foo_bar","params":[]}]`)
	if r.status != 200 || strings.TrimSpace(r.body) != "["+want+"]" {
		t.Fatalf("in a batch: %d %s, want [%s]", r.status, r.body, want)
	}
	if n := calls(); n != 4 {
		t.Fatalf("after the batch the nodes got %d calls, want 4 (every node learned: one try)", n)
	}
	if v := retries(); v != "2" {
		t.Fatalf("evmgate_retries_total = %q after a call that needed no retry, want still 2", v)
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
	for i, n := range g.Status().Networks[0].Nodes {
		if len(n.MissingMethods) != 1 || n.MissingMethods[0] != "foo_bar" {
			t.Fatalf("node %s missing_methods after reload = %v, want [foo_bar]", n.Name, n.MissingMethods)
		}
		if got := fmt.Sprint(n.Methods); (i == 1) != (got == "&{[] [trace_*]}") || i == 0 && n.Methods != nil {
			t.Fatalf("node %s methods in /status after reload = %s, want the deny list on the second node only", n.Name, got)
		}
	}
}

// A node's methods lists are never overridden: a denied method does not
// reach it even when the other node is down, and a method no node's lists
// admit is answered by the gateway.
func TestNodeMethodsListsHold(t *testing.T) {
	f := fakes(t, 2)
	f[1].SetResult("debug_traceBlock", "[]")
	yaml := "request_timeout: 3s\n" + netYAML("    cache: false\n    rpc_retries: 3\n    paths: [\"/sim\"]\n",
		nodeYAML("local_nodes", "        methods: {deny: [\"eth_sendRawTransaction\", \"debug_*\"]}\n", f[0])+
			nodeYAML("local_nodes", "        methods: {deny: [\"eth_sendRawTransaction\"]}\n", f[1])[len("    local_nodes:\n"):])
	g := startGateway(t, yaml)
	waitFor(t, "both nodes eligible", func() bool { return eligibleNodes(g, "mainnet") == 2 })

	for _, path := range []string{"/mainnet", "/sim"} { // a prio-load-balancer path answers it as a node would, in JSON
		r := post(t, g.RPCURL()+path, `{"jsonrpc":"2.0","id":1,"method":"eth_sendRawTransaction","params":["0x01"]}`)
		if r.status != 200 || !strings.Contains(r.body, `"code":-32601`) || !strings.Contains(r.body, "methods lists") {
			t.Fatalf("%s, a method no node admits: %d %s", path, r.status, r.body)
		}
	}
	r := post(t, g.RPCURL()+"/mainnet", `[{"jsonrpc":"2.0","id":1,"method":"eth_sendRawTransaction","params":["0x01"]},{"jsonrpc":"2.0","id":2,"method":"eth_blockNumber","params":[]}]`)
	if r.status != 200 || !strings.Contains(r.body, `"code":-32601`) || !strings.Contains(r.body, `"result":"0x64"`) {
		t.Fatalf("a batch with a method no node admits: %d %s", r.status, r.body)
	}
	if n := f[0].Calls("eth_sendRawTransaction") + f[1].Calls("eth_sendRawTransaction"); n != 0 {
		t.Fatalf("a method every node denies reached the nodes %d times", n)
	}

	// The node that admits debug_* goes down: such calls fail rather than
	// go to the node that denies them.
	for range 4 {
		if r := post(t, g.RPCURL()+"/mainnet", `[{"jsonrpc":"2.0","id":1,"method":"debug_traceBlock","params":["0x1"]},{"jsonrpc":"2.0","id":2,"method":"eth_blockNumber","params":[]}]`); !strings.Contains(r.body, `"id":1,"result":[]`) {
			t.Fatalf("a mixed batch: %d %s", r.status, r.body)
		}
	}
	f[1].Close()
	for range 4 {
		post(t, g.RPCURL()+"/mainnet", `{"jsonrpc":"2.0","id":1,"method":"debug_traceBlock","params":["0x1"]}`)
		post(t, g.RPCURL()+"/mainnet", `[{"jsonrpc":"2.0","id":1,"method":"debug_traceBlock","params":["0x1"]},{"jsonrpc":"2.0","id":2,"method":"eth_blockNumber","params":[]}]`)
	}
	if n := f[0].Calls("debug_traceBlock"); n != 0 {
		t.Fatalf("the node that denies debug_* got %d of its calls", n)
	}
}

// A node out of rotation that has not said it lacks a method does not
// take the calls of that method ahead of the serving node that lacks it:
// that node answers them, at once.
func TestMethodMissingNodeOutOfRotationNotPreferred(t *testing.T) {
	f := fakes(t, 3)
	g := startGateway(t, netYAML("    cache: false\n    rpc_timeout: 3s\n", nodesYAML("local_nodes", f...)))
	waitFor(t, "all nodes eligible", func() bool { return eligibleNodes(g, "mainnet") == 3 })
	f[1].SetHead(10) // far behind: out of rotation, still answering
	waitFor(t, "the lagging node out of rotation", func() bool { return eligibleNodes(g, "mainnet") == 2 })
	f[1].Record("foo_bar")
	f[1].Hold("foo_bar")
	t.Cleanup(func() { f[1].Release("foo_bar") })
	for i := range 3 {
		r := post(t, g.RPCURL()+"/mainnet", `{"jsonrpc":"2.0","id":1,"method":"foo_bar","params":["0x1"]}`)
		if r.status != 200 || !strings.Contains(r.body, `"code":-32601`) {
			t.Fatalf("call %d: %d %s", i, r.status, r.body)
		}
	}
	if got := f[1].Arrivals("foo_bar"); len(got) != 0 {
		t.Fatalf("the node out of rotation got %d foo_bar calls, want none", len(got))
	}
}

// The chunks of a split eth_getLogs keep to the nodes whose methods lists
// admit it.
func TestNodeMethodsListsHoldForLogChunks(t *testing.T) {
	f := fakes(t, 2)
	for _, n := range f {
		n.SetResult("eth_getLogs", "[]")
	}
	g := startGateway(t, netYAML("    cache: false\n    logs_chunk_blocks: 10\n    strategy: round_robin\n",
		nodeYAML("local_nodes", "        methods: {deny: [\"eth_getLogs\"]}\n", f[0])+nodeYAML("local_nodes", "", f[1])[len("    local_nodes:\n"):]))
	waitFor(t, "both nodes eligible", func() bool { return eligibleNodes(g, "mainnet") == 2 })
	for range 3 {
		r := post(t, g.RPCURL()+"/mainnet", `{"jsonrpc":"2.0","id":2,"method":"eth_getLogs","params":[{"fromBlock":"0x1","toBlock":"0x1e"}]}`)
		if r.status != 200 || !strings.Contains(r.body, `"result":[]`) {
			t.Fatalf("eth_getLogs: %d %s", r.status, r.body)
		}
	}
	if n := f[0].Calls("eth_getLogs"); n != 0 || f[1].Calls("eth_getLogs") < 9 {
		t.Fatalf("chunks: %d on the node that denies eth_getLogs, %d on the other; want 0 and at least 9", n, f[1].Calls("eth_getLogs"))
	}
}

// More nodes than tries: a method no node serves still gets a node's own
// answer, not "no node could answer".
func TestMethodMissingMoreNodesThanTries(t *testing.T) {
	f := fakes(t, 4)
	g := startGateway(t, netYAML("    cache: false\n    rpc_retries: 1\n", nodesYAML("local_nodes", f...)))
	waitFor(t, "all nodes eligible", func() bool { return eligibleNodes(g, "mainnet") == 4 })
	for i, body := range []string{`{"jsonrpc":"2.0","id":1,"method":"foo_q1","params":[]}`, `[{"jsonrpc":"2.0","id":1,"method":"foo_q2","params":[]},{"jsonrpc":"2.0","id":2,"method":"eth_blockNumber","params":[]}]`} {
		r := post(t, g.RPCURL()+"/mainnet", body)
		if r.status != 200 || !strings.Contains(r.body, `"code":-32601`) || strings.Contains(r.body, "no node could answer") {
			t.Fatalf("request %d: %d %s", i, r.status, r.body)
		}
	}
}

// A call that names a block, whose method only a node that is down
// admits, fails at once rather than waiting for request_timeout.
func TestMethodOnlyOnADownNodeFailsAtOnce(t *testing.T) {
	f := fakes(t, 2)
	g := startGateway(t, "request_timeout: 20s\n"+netYAML("    cache: false\n",
		nodeYAML("local_nodes", "        methods: {deny: [\"eth_getBalance\"]}\n", f[0])+nodeYAML("local_nodes", "", f[1])[len("    local_nodes:\n"):]))
	waitFor(t, "both nodes eligible", func() bool { return eligibleNodes(g, "mainnet") == 2 })
	f[1].Close()
	waitFor(t, "the closed node out of rotation", func() bool { return eligibleNodes(g, "mainnet") == 1 })
	r := post(t, g.RPCURL()+"/mainnet", `{"jsonrpc":"2.0","id":1,"method":"eth_getBalance","params":["0x00000000219ab540356cbb839cbe05303d7705fa","0x50"]}`)
	if r.status != 503 || !strings.Contains(r.body, `"code":-32050`) {
		t.Fatalf("eth_getBalance at a block, only the down node admits it: %d %s, want 503 -32050 (not a wait for request_timeout)", r.status, r.body)
	}
}

// A batch of several methods goes only to nodes whose methods lists admit
// one of its calls, and each call ends on a node that admits it.
func TestMixedBatchKeepsToNodesThatAdmitItsCalls(t *testing.T) {
	f := fakes(t, 4)
	deny := func(m ...string) string { return "        methods: {deny: [\"" + strings.Join(m, "\", \"") + "\"]}\n" }
	nodes := nodeYAML("local_nodes", deny("web3_clientVersion"), f[0]) +
		nodeYAML("local_nodes", deny("web3_clientVersion", "net_version"), f[1])[len("    local_nodes:\n"):] +
		nodeYAML("local_nodes", deny("web3_clientVersion", "net_version"), f[2])[len("    local_nodes:\n"):] +
		nodeYAML("local_nodes", "", f[3])[len("    local_nodes:\n"):]
	g := startGateway(t, netYAML("    cache: false\n    rpc_retries: 1\n    strategy: round_robin\n", nodes))
	waitFor(t, "all nodes eligible", func() bool { return eligibleNodes(g, "mainnet") == 4 })
	for i := range 8 {
		r := post(t, g.RPCURL()+"/mainnet", `[{"jsonrpc":"2.0","id":1,"method":"net_version","params":[]},{"jsonrpc":"2.0","id":2,"method":"web3_clientVersion","params":[]}]`)
		if r.status != 200 || strings.Contains(r.body, `"error"`) || !strings.Contains(r.body, `"id":2,"result":"fake3"`) {
			t.Fatalf("batch %d: %d %s", i, r.status, r.body)
		}
	}
	for i, n := range f[:3] {
		if c := n.Calls("web3_clientVersion"); c != 0 {
			t.Fatalf("node %d, whose lists refuse web3_clientVersion, got it %d times", i, c)
		}
	}
	if c := f[1].Calls("net_version") + f[2].Calls("net_version"); c != 0 {
		t.Fatalf("nodes whose lists refuse net_version got it %d times", c)
	}
}

// eth_subscribe over HTTP is answered "method not found" by nodes that
// serve it over WebSocket: that is the answer, once, and nothing is learned.
func TestSubscribeOverHTTPIsNotLearned(t *testing.T) {
	f := fakes(t, 2)
	g := startGateway(t, netYAML("    cache: false\n", nodesYAML("local_nodes", f...)))
	waitFor(t, "both nodes eligible", func() bool { return eligibleNodes(g, "mainnet") == 2 })
	r := post(t, g.RPCURL()+"/mainnet", `{"jsonrpc":"2.0","id":1,"method":"eth_subscribe","params":["newHeads"]}`)
	if r.status != 200 || !strings.Contains(r.body, `"code":-32601`) {
		t.Fatalf("eth_subscribe over HTTP: %d %s", r.status, r.body)
	}
	if n := f[0].Calls("eth_subscribe") + f[1].Calls("eth_subscribe"); n != 1 {
		t.Fatalf("eth_subscribe over HTTP reached the nodes %d times, want 1", n)
	}
	for _, n := range g.Status().Networks[0].Nodes {
		if len(n.MissingMethods) != 0 {
			t.Fatalf("node %s learned %v from eth_subscribe over HTTP", n.Name, n.MissingMethods)
		}
	}
}
