package gateway_test

import (
	"context"
	"strings"
	"testing"
	"time"
)

// A call of a network a reload removed, still waiting on its node when the
// shutdown's grace ends, is answered -32056 and its try is cut at the node
// at once, as the calls of the networks that stay are: it does not run on
// to its rpc_timeout.
func TestShutdownStopsRetiringNetworksCalls(t *testing.T) {
	f := fakes(t, 2)
	f[1].Record("eth_call")
	f[1].Hold("eth_call")
	t.Cleanup(func() { f[1].Release("eth_call") })
	two := "log_level: DEBUG\nrequest_timeout: 1m\nnetworks:\n" +
		"  - name: a\n    local_poll_interval: 50ms\n    rpc_timeout: 9s\n" + nodesYAML("local_nodes", f[0]) +
		"  - name: b\n    local_poll_interval: 50ms\n    rpc_timeout: 9s\n" + nodesYAML("local_nodes", f[1])
	g := startGateway(t, two)
	waitFor(t, "b's node eligible", func() bool { return eligibleNodes(g, "b") == 1 })
	done := make(chan reply, 1)
	go func() {
		done <- post(t, g.RPCURL()+"/b", `{"jsonrpc":"2.0","id":5,"method":"eth_call","params":[{"to":"0x01"},"latest"]}`)
	}()
	waitFor(t, "the call at b's node", func() bool { return len(f[1].Arrivals("eth_call")) == 1 })
	reloadTo(t, g, "log_level: DEBUG\nrequest_timeout: 1m\nnetworks:\n"+
		"  - name: a\n    local_poll_interval: 50ms\n    rpc_timeout: 9s\n"+nodesYAML("local_nodes", f[0]))

	grace, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	go g.Close(grace)

	select {
	case r := <-done:
		if !strings.Contains(r.body, "-32056") {
			t.Fatalf("the retiring network's call: %d %s, want -32056", r.status, r.body)
		}
	case <-time.After(8 * time.Second): // the grace is 100 ms
		t.Fatal("the retiring network's call still waits after the grace (its rpc_timeout is 9 s)")
	}
	waitFor(t, "the try cut at b's node", func() bool { return f[1].GaveUp("eth_call") == 1 })
}
