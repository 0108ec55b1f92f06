package e2e

import (
	"context"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/evmgate/evmgate/internal/devnet"
)

// TestEqualNodesShareOneCallAtATime: two real nodes of one chain, calls
// sent one after another (nothing in flight when the balancer picks), the
// default strategy (p2c): each node serves between 35% and 65% of the
// calls, and the status report's share says so too.
func TestEqualNodesShareOneCallAtATime(t *testing.T) {
	net := startNet(t, devnet.Config{Nodes: 2})
	mineIndexed(t, net)
	g := startGateway(t, nodeURLs(net), gwOptions{})
	waitInSync(t, g, net.Head(), "node0", "node1")
	c := dialRPC(t, gatewayURL(g))
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	const calls = 200
	before := servedCalls(t, g)
	for i := range calls {
		var balance string
		if err := c.CallContext(ctx, &balance, "eth_getBalance", common.Address{}, "latest"); err != nil {
			t.Fatalf("call %d: %v", i, err)
		}
	}
	d := delta(before, servedCalls(t, g))
	t.Logf("%d sequential calls: node0 %.1f%%, node1 %.1f%%", calls, 100*d["node0"]/calls, 100*d["node1"]/calls)
	if d["node0"]+d["node1"] != calls {
		t.Fatalf("calls served per node %v, want %d in all", d, calls)
	}
	for _, name := range []string{"node0", "node1"} {
		if s := d[name] / calls; s < 0.35 || s > 0.65 {
			t.Errorf("%s served %.1f%% of the calls, want 35%%..65%%", name, 100*s)
		}
		st, _ := nodeStatus(g, name)
		t.Logf("/status: %s share %.3f, %.1f calls/s", name, st.Share, st.CallsPerSecond)
		if st.Share < 0.3 || st.Share > 0.7 {
			t.Errorf("/status: %s share %.3f, want about half", name, st.Share)
		}
	}
}
