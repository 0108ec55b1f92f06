package gateway_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestBodyRefusedAsTooLargeByTheNode: nodes that refuse a body over their
// limit with HTTP 413 (geth over 5 MiB, under the gateway's max_body_bytes)
// refuse it on the client's account. The call goes to each node once, the
// client gets 413 with -32054 naming the nodes and what to do, and no
// node is blamed: its state, failures, breaker and error_rate stay clean.
// In a batch, only the call sent to the node fails (-32054): the others,
// answered from the cache or refused by the gateway itself, keep their
// answers.
func TestBodyRefusedAsTooLargeByTheNode(t *testing.T) {
	f := fakes(t, 3)
	for _, n := range f {
		n.SetMaxBody(64 << 10)
	}
	// One failure in a row would take a blamed node out, and one failed
	// call would open its breaker.
	g := startGateway(t, netYAML("    rpc_retries: 2\n    rpc_timeout: 10s\n    down_after: 1\n"+
		"    circuit_breaker: {failures: 1, failure_ratio: 0.1, cooldown: 1h}\n", nodesYAML("local_nodes", f...)))
	url := g.RPCURL() + "/mainnet"
	waitFor(t, "the three nodes eligible", func() bool { return eligibleNodes(g, "mainnet") == 3 })
	refused := func() (total int64) {
		for _, n := range f {
			total += n.Refused()
		}
		return total
	}

	big := `{"jsonrpc":"2.0","id":7,"method":"web3_sha3","params":["0x` + strings.Repeat("ab", 50<<10) + `"]}`
	r := post(t, url, big)
	var single struct {
		ID    json.RawMessage
		Error struct {
			Code    int
			Message string
		}
	}
	if err := json.Unmarshal([]byte(r.body), &single); err != nil {
		t.Fatalf("answer %d %.300s: %v", r.status, r.body, err)
	}
	if r.status != 413 || single.Error.Code != -32054 || string(single.ID) != "7" ||
		!strings.Contains(single.Error.Message, "fake") || !strings.Contains(single.Error.Message, "smaller request") {
		t.Fatalf("answer %d %.300s, want 413 with -32054 naming the node and saying to send less", r.status, r.body)
	}
	if n := refused(); n != 3 {
		t.Fatalf("the call was refused %d times, want once by each node (no second round)", n)
	}

	chainID := `{"jsonrpc":"2.0","id":1,"method":"eth_chainId"}`
	if r := post(t, url, chainID); r.status != 200 || !strings.Contains(r.body, `"result":"0x1"`) {
		t.Fatalf("eth_chainId: %d %s", r.status, r.body) // now in the cache
	}
	batch := `[{"jsonrpc":"2.0","id":1,"method":"eth_chainId"},{"jsonrpc":"2.0","id":2},` + big + `]`
	r = post(t, url, batch)
	var els []struct {
		Result json.RawMessage
		Error  *struct{ Code int }
	}
	if err := json.Unmarshal([]byte(r.body), &els); err != nil || r.status != 200 || len(els) != 3 {
		t.Fatalf("batch: answer %d %.300s (%v), want 200 with 3 answers", r.status, r.body, err)
	}
	if string(els[0].Result) != `"0x1"` || els[1].Error == nil || els[1].Error.Code != -32600 ||
		els[2].Error == nil || els[2].Error.Code != -32054 {
		t.Errorf("batch: answer %.300s, want a result, -32600 and -32054", r.body)
	}
	if n := refused(); n != 6 {
		t.Fatalf("the batch was refused %d times, want once by each node", n-3)
	}

	if r := post(t, url, blockNumber); r.status != 200 || !strings.Contains(r.body, `"result"`) {
		t.Fatalf("a small call after: %d %s", r.status, r.body)
	}
	for _, n := range f {
		if n.Refused() == 0 {
			continue
		}
		// error_rate comes from the history's samples, taken every second.
		waitFor(t, n.Name+"'s error_rate", func() bool { return nodeStatus(t, g, n.Name).ErrorRate != nil })
		st := nodeStatus(t, g, n.Name)
		if st.State != "up" || st.Failures != 0 || st.Breaker != "closed" || *st.ErrorRate != 0 {
			t.Errorf("%s refused a body as too large: state %s, %d failures, breaker %s, error_rate %v; want up, 0, closed, 0",
				n.Name, st.State, st.Failures, st.Breaker, *st.ErrorRate)
		}
	}
}

// TestCallsOwnDeadlineIsNotTheNodes: a call whose request_timeout ran out
// while its try was at a slow node gets 504, and the node's error_rate
// stays 0: the deadline was the call's, not a failure of the node.
func TestCallsOwnDeadlineIsNotTheNodes(t *testing.T) {
	f := fakes(t, 1)
	g := startGateway(t, "request_timeout: 300ms\n"+netYAML("    rpc_timeout: 5s\n    rpc_retries: 0\n", nodesYAML("local_nodes", f...)))
	f[0].SetDelay(2 * time.Second)
	r := post(t, g.RPCURL()+"/mainnet", `{"jsonrpc":"2.0","id":1,"method":"eth_getBalance","params":["0x1","latest"]}`)
	f[0].SetDelay(0)
	if r.status != http.StatusGatewayTimeout {
		t.Fatalf("got %d %s, want 504", r.status, r.body)
	}
	waitFor(t, "fake0's error_rate", func() bool { return nodeStatus(t, g, "fake0").ErrorRate != nil })
	if st := nodeStatus(t, g, "fake0"); *st.ErrorRate != 0 {
		t.Fatalf("error_rate %v after a call that ran out of its own time, want 0", *st.ErrorRate)
	}
}

// TestBodyRefusedByOneNodeIsTakenByAnother: a node behind a smaller body
// limit than the others (a local node before a provider) refuses a large
// call with 413, and another node answers it.
func TestBodyRefusedByOneNodeIsTakenByAnother(t *testing.T) {
	f := fakes(t, 2)
	f[0].SetMaxBody(64 << 10)
	g := startGateway(t, netYAML("    strategy: round_robin\n    rpc_retries: 1\n", nodesYAML("local_nodes", f...)))
	waitFor(t, "both nodes eligible", func() bool { return eligibleNodes(g, "mainnet") == 2 })
	big := `{"jsonrpc":"2.0","id":7,"method":"web3_sha3","params":["0x` + strings.Repeat("ab", 50<<10) + `"]}`
	for range 4 { // round robin: the limited node comes first at least once
		// The fake nodes answer web3_sha3 with their own -32601.
		if r := post(t, g.RPCURL()+"/mainnet", big); r.status != 200 || !strings.Contains(r.body, `"code":-32601`) {
			t.Fatalf("answer %d %.300s, want the other node's answer", r.status, r.body)
		}
	}
	if f[0].Refused() == 0 {
		t.Fatal("the limited node never refused the call: the test did not reach it")
	}
}
