package e2e

import (
	"context"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/rpc"

	"github.com/evmgate/evmgate/internal/devnet"
)

// TestFiltersThroughTwoNodes: a filter lives on the go-ethereum node that
// made it. Through a gateway in front of two nodes (round robin, so any
// call would take turns), every use of a filter (eth_getFilterChanges,
// eth_getFilterLogs, eth_uninstallFilter) goes to the node that made it,
// whichever transport made it (a single call or a batch): none is told
// "filter not found", and a block filter sees each new block once.
func TestFiltersThroughTwoNodes(t *testing.T) {
	net := startNet(t, devnet.Config{Nodes: 2})
	mineIndexed(t, net)
	g := startGateway(t, nodeURLs(net), gwOptions{Strategy: "round_robin"})
	waitInSync(t, g, net.Head(), "node0", "node1")
	gw := dialRPC(t, gatewayURL(g))
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	var blocks, logs string
	if err := gw.CallContext(ctx, &blocks, "eth_newBlockFilter"); err != nil {
		t.Fatal(err)
	}
	batch := []rpc.BatchElem{{Method: "eth_newFilter", Args: []any{map[string]any{"fromBlock": "0x0"}}, Result: &logs},
		{Method: "eth_chainId", Result: new(string)}}
	if err := gw.BatchCallContext(ctx, batch); err != nil || batch[0].Error != nil {
		t.Fatalf("eth_newFilter in a batch: %v %v", err, batch[0].Error)
	}
	for i := range 3 {
		if _, err := net.Mine(ctx); err != nil {
			t.Fatal(err)
		}
		waitInSync(t, g, net.Head(), "node0", "node1")
		var changes []string
		for j := range 4 { // round robin would have sent half of these to the other node
			var got []string
			if err := gw.CallContext(ctx, &got, "eth_getFilterChanges", blocks); err != nil {
				t.Fatalf("block %d, poll %d: %v", i, j, err)
			}
			changes = append(changes, got...)
		}
		if len(changes) != 1 {
			t.Fatalf("block %d: the block filter gave %d hashes over 4 polls, want the new block's one", i, len(changes))
		}
		var all []any
		if err := gw.CallContext(ctx, &all, "eth_getFilterLogs", logs); err != nil {
			t.Fatalf("eth_getFilterLogs: %v", err)
		}
	}
	for _, id := range []string{blocks, logs} {
		var ok bool
		if err := gw.CallContext(ctx, &ok, "eth_uninstallFilter", id); err != nil || !ok {
			t.Fatalf("eth_uninstallFilter %s: %v %v", id, ok, err)
		}
	}
}

// TestFilterOnALaggingNode: a node that lags past network_block_diff is out
// of rotation, but still holds its filters and answers for them: a filter
// made on it is still polled there (up to its own head), not sent to the
// other node, which would say "filter not found".
func TestFilterOnALaggingNode(t *testing.T) {
	net := startNet(t, devnet.Config{Nodes: 2})
	mineIndexed(t, net)
	g := startGateway(t, nodeURLs(net), gwOptions{Strategy: "round_robin", BlockDiff: 1})
	waitInSync(t, g, net.Head(), "node0", "node1")
	gw := dialRPC(t, gatewayURL(g))
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	// Round robin: two filters, one on each node.
	ids := make([]string, 2)
	for i := range ids {
		if err := gw.CallContext(ctx, &ids[i], "eth_newBlockFilter"); err != nil {
			t.Fatal(err)
		}
	}
	net.Nodes()[1].Freeze()
	for range 3 {
		if _, err := net.Mine(ctx); err != nil {
			t.Fatal(err)
		}
	}
	waitUntil(t, 30*time.Second, "node1 out of rotation", func() bool { return networkHead(g) == net.Head() && !eligible(g, "node1") })
	for _, id := range ids {
		var got []string
		if err := gw.CallContext(ctx, &got, "eth_getFilterChanges", id); err != nil {
			t.Fatalf("filter %s with node1 lagging: %v", id, err)
		}
	}
}
