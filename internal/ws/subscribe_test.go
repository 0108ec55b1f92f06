package ws_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/evmgate/evmgate/internal/devnet"
)

// TestSubscriptionsMatchDirectNode: a client subscribed to newHeads and logs
// through evmgate receives byte for byte what a client subscribed directly
// to a node receives.
func TestSubscriptionsMatchDirectNode(t *testing.T) {
	n := startNet(t, 3, 300*time.Millisecond)
	emitter := deployEmitter(t, n)
	g := startGateway(t, gatewayYAML(n, allWS, ""))

	direct := dialWS(t, n.Nodes()[0].WSURL())
	through := dialWS(t, wsURL(g))
	filter := map[string]any{"address": emitter}
	_, dHeads := direct.subscribe("newHeads")
	_, dLogs := direct.subscribe("logs", filter)
	_, gHeads := through.subscribe("newHeads")
	_, gLogs := through.subscribe("logs", filter)

	sender := newLogSender(t, n, n.Nodes()[1], 1, emitter)
	for i := range 12 {
		sender.send([]byte(fmt.Sprintf("log %d", i)))
		if i%3 == 2 {
			waitBlocks(t, n, 1)
		}
	}
	sender.waitMined(20 * time.Second)
	target := n.Head() + 3

	dByNum, gByNum := collectHeads(t, dHeads, target), collectHeads(t, gHeads, target)
	checkConsecutive(t, gByNum.order, target)
	common := 0
	for _, num := range gByNum.order {
		if d, ok := dByNum.raw[num]; ok {
			common++
			if !bytes.Equal(d, gByNum.raw[num]) {
				t.Fatalf("header %d differs:\ndirect  %s\nevmgate %s", num, d, gByNum.raw[num])
			}
		}
	}
	if common < 5 {
		t.Fatalf("only %d headers in common", common)
	}
	for i := range 12 {
		d, g := next(t, dLogs, "direct log"), next(t, gLogs, "evmgate log")
		if !bytes.Equal(d, g) {
			t.Fatalf("log %d differs:\ndirect  %s\nevmgate %s", i, d, g)
		}
	}
}

func waitBlocks(t testing.TB, n *devnet.Net, k uint64) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := n.WaitHead(ctx, n.Head()+k); err != nil {
		t.Fatal(err)
	}
}

func next(t testing.TB, ch chan json.RawMessage, what string) json.RawMessage {
	t.Helper()
	select {
	case raw := <-ch:
		return raw
	case <-time.After(20 * time.Second):
		t.Fatalf("timed out waiting for %s", what)
	}
	return nil
}

// heads are received headers: their order and each one's raw bytes.
type heads struct {
	order []uint64
	raw   map[uint64]json.RawMessage
	hash  map[uint64]string
}

// collectHeads reads headers until one at height target or above.
func collectHeads(t testing.TB, ch chan json.RawMessage, target uint64) heads {
	t.Helper()
	h := heads{raw: map[uint64]json.RawMessage{}, hash: map[uint64]string{}}
	receive(t, ch, fmt.Sprintf("header %d", target), 30*time.Second, func(raw json.RawMessage) bool {
		x := decodeHeader(t, raw)
		num := x.num(t)
		h.order = append(h.order, num)
		h.raw[num], h.hash[num] = raw, x.Hash
		return num >= target
	})
	return h
}

// checkConsecutive fails unless order is every height once, ascending, up to target.
func checkConsecutive(t testing.TB, order []uint64, target uint64) {
	t.Helper()
	for i := 1; i < len(order); i++ {
		if order[i] != order[i-1]+1 {
			t.Fatalf("heights not consecutive at %d: ... %v", i, order[max(0, i-5):min(len(order), i+5)])
		}
	}
	if len(order) == 0 || order[len(order)-1] < target {
		t.Fatalf("heights %v do not reach %d", order, target)
	}
}

// TestSubscriptionSurvivesNodeFailure: the node serving a newHeads and a
// logs subscription falls behind, then the next one dies, while blocks and
// logs keep coming; the client sees every height exactly once, in order,
// each with the chain's hash, and every log exactly once.
func TestSubscriptionSurvivesNodeFailure(t *testing.T) {
	n := startNet(t, 4, 250*time.Millisecond)
	emitter := deployEmitter(t, n)
	nodes := n.Nodes()
	g := startGateway(t, tieredYAML(nodes))
	c := dialWS(t, wsURL(g))
	_, headsCh := c.subscribe("newHeads")
	_, logsCh := c.subscribe("logs", map[string]any{"address": emitter})

	ctx, cancel := context.WithCancel(context.Background())
	sender := newLogSender(t, n, nodes[2], 1, emitter) // node2 stays up
	sent := make(chan []common.Hash)
	go sender.every(ctx, 60*time.Millisecond, sent)
	waitBlocks(t, n, 4)
	// node0 falls behind: it stays up but gets no more blocks, until it is
	// more than network_block_diff behind and no longer eligible.
	nodes[0].Freeze()
	waitBlocks(t, n, 6)
	// node1 dies.
	if err := nodes[1].Stop(); err != nil {
		t.Fatal(err)
	}
	waitBlocks(t, n, 5)
	cancel()
	hashes := <-sent
	sender.waitMined(30 * time.Second)
	target := n.Head()

	got := collectHeads(t, headsCh, target)
	checkConsecutive(t, got.order, target)
	for _, num := range got.order {
		b, ok := n.Block(num)
		if !ok || b.Hash.Hex() != got.hash[num] {
			t.Fatalf("header %d has hash %s, the chain %s", num, got.hash[num], b.Hash.Hex())
		}
	}
	seen := receiveLogsOnce(t, logsCh, hashes)
	for _, kind := range []string{"newHeads", "logs"} {
		if moves := metric(t, g.Registry(), "evmgate_ws_resubscribes_total", map[string]string{"kind": kind}); moves < 2 {
			t.Errorf("%s subscription moved %v times, want 2", kind, moves)
		}
	}
	for _, kind := range []string{"newHeads", "logs"} {
		if filled := metric(t, g.Registry(), "evmgate_ws_backfilled_total", map[string]string{"kind": kind}); filled == 0 {
			t.Errorf("nothing was backfilled for %s: the lagging node's gap was not exercised", kind)
		}
	}
	t.Logf("%d heights, %d logs, backfilled %v", len(got.order), seen,
		metric(t, g.Registry(), "evmgate_ws_backfilled_total", nil))
}

// tieredYAML puts node0 in the local tier, node1 in the monitoring tier and
// node2 and node3 in the fallback tier, so subscriptions go to node0, then
// node1, then node2 or node3 (two of them, so their head confirms the
// network head).
func tieredYAML(nodes []*devnet.Node) string {
	return fmt.Sprintf(`log_level: WARN
log_requests: false
networks:
  - name: dev
    chain_id: 1337
    local_poll_interval: 100ms
    rpc_timeout: 2s
    down_after: 2
    network_block_diff: 2
    local_nodes:
      - {rpc_endpoint: %q, ws_endpoint: %q, name: node0}
    monitoring_nodes:
      - {rpc_endpoint: %q, ws_endpoint: %q, name: node1}
    fallback_nodes:
      - {rpc_endpoint: %q, ws_endpoint: %q, name: node2}
      - {rpc_endpoint: %q, ws_endpoint: %q, name: node3}
`, nodes[0].HTTPURL(), nodes[0].WSURL(), nodes[1].HTTPURL(), nodes[1].WSURL(), nodes[2].HTTPURL(), nodes[2].WSURL(),
		nodes[3].HTTPURL(), nodes[3].WSURL())
}

// receiveLogsOnce reads logs until every transaction in hashes has been
// seen once, failing on a removed, repeated or unknown log; it returns how
// many it read.
func receiveLogsOnce(t *testing.T, ch chan json.RawMessage, hashes []common.Hash) int {
	t.Helper()
	want := map[common.Hash]bool{}
	for _, h := range hashes {
		want[h] = true
	}
	seen := map[common.Hash]bool{}
	receive(t, ch, fmt.Sprintf("%d logs", len(want)), 30*time.Second, func(raw json.RawMessage) bool {
		l := decodeLog(t, raw)
		if l.Removed || seen[l.TxHash] || !want[l.TxHash] {
			t.Fatalf("unexpected log (removed %v, repeated %v): %s", l.Removed, seen[l.TxHash], raw)
		}
		seen[l.TxHash] = true
		return len(seen) == len(want)
	})
	return len(seen)
}
