package e2e

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/evmgate/evmgate/internal/devnet"
	"github.com/evmgate/evmgate/internal/gateway"
)

// routingYAML renders a configuration with one network (no cache, so
// every call reaches a node) of the given local nodes, each a YAML
// fragment from routeNode.
func routingYAML(extra string, nodes ...string) string {
	var b strings.Builder
	b.WriteString("log_level: WARN\nlog_requests: false\nstrategy: round_robin\n")
	fmt.Fprintf(&b, "networks:\n  - name: %s\n    chain_id: 1337\n    cache: false\n", networkName)
	b.WriteString("    local_poll_interval: 50ms\n    network_block_diff: 5\n    rpc_timeout: 10s\n")
	b.WriteString(extra)
	b.WriteString("    local_nodes:\n")
	for _, n := range nodes {
		b.WriteString(n)
	}
	return b.String()
}

// routeNode is one node of routingYAML; more holds its extra keys, one
// "key: value" per line.
func routeNode(name, url string, more ...string) string {
	s := fmt.Sprintf("      - name: %s\n        rpc_endpoint: %q\n", name, url)
	for _, m := range more {
		s += "        " + m + "\n"
	}
	return s
}

// startRoutingGateway starts a gateway from routingYAML text.
func startRoutingGateway(t *testing.T, yaml string) *gateway.Gateway {
	t.Helper()
	log := slog.New(slog.DiscardHandler)
	if testing.Verbose() {
		log = slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelInfo}))
	}
	return startGatewayLogged(t, yaml, log)
}

// mineTo mines until the net's head is at least head.
func mineTo(t *testing.T, net *devnet.Net, head uint64) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	for net.Head() < head {
		if _, err := net.Mine(ctx); err != nil {
			t.Fatalf("mining: %v", err)
		}
	}
}

// oldStateCalls sends n state calls at blocks older than window below the
// head and checks that each is answered with a result.
func oldStateCalls(t *testing.T, g *gateway.Gateway, net *devnet.Net, n int, window uint64) {
	t.Helper()
	_, faucet := net.Faucet()
	hc := newHTTPClient()
	defer hc.CloseIdleConnections()
	oldest := net.Head() - window - 1
	for i := range n {
		block := fmt.Sprintf(`"0x%x"`, 1+uint64(i)%oldest)
		body := callBody("1", "eth_getBalance", fmt.Sprintf("%q", faucet.Hex()), block)
		if i%2 == 1 {
			body = callBody("1", "eth_getCode", fmt.Sprintf("%q", faucet.Hex()), block)
		}
		status, out := postRaw(t, hc, gatewayURL(g), body)
		if status != 200 || !strings.Contains(string(out), `"result"`) {
			t.Fatalf("old state call %s: %d %s", body, status, out)
		}
	}
}

// history returns a node's history as the gateway's status reports it.
func history(g *gateway.Gateway, name string) string {
	st, _ := nodeStatus(g, name)
	return fmt.Sprintf("%s/%d/%s", st.History, st.StateWindow, st.HistorySource)
}

// TestOldStateGoesOnlyToArchiveNodes serves two real nodes, one behind a
// proxy that prunes state older than 4 blocks (archive: false,
// state_window: 4), the other configured as an archive node. Calls for old
// state all reach the archive node: the full node never sees one. Calls at
// the head still go to both. Without an archive node, the full node's own
// error is the answer.
func TestOldStateGoesOnlyToArchiveNodes(t *testing.T) {
	net := startNet(t, devnet.Config{Nodes: 2})
	mineIndexed(t, net)
	mineTo(t, net, 16)
	archive := startSpy(t, net.Nodes()[0].HTTPURL(), 0)
	full := startSpy(t, net.Nodes()[1].HTTPURL(), 4)
	g := startRoutingGateway(t, routingYAML("",
		routeNode("archive", archive.URL(), "archive: true"),
		routeNode("full", full.URL(), "archive: false", "state_window: 4")))
	waitInSync(t, g, net.Head(), "archive", "full")
	if a, f := history(g, "archive"), history(g, "full"); a != "archive/0/configured" || f != "full/4/configured" {
		t.Fatalf("status history: archive %s, full %s", a, f)
	}

	oldStateCalls(t, g, net, 40, 4)
	if calls, _ := full.old(); calls != 0 {
		t.Fatalf("the full node got %d calls for state older than its window", calls)
	}
	if n := archive.count("eth_getBalance") + archive.count("eth_getCode"); n < 40 {
		t.Fatalf("the archive node got %d old state calls, want 40", n)
	}

	// At the head both serve (round_robin alternates).
	hc := newHTTPClient()
	defer hc.CloseIdleConnections()
	_, faucet := net.Faucet()
	before := full.count("eth_getBalance")
	for range 10 {
		postRaw(t, hc, gatewayURL(g), callBody("1", "eth_getBalance", fmt.Sprintf("%q", faucet.Hex()), `"latest"`))
	}
	if full.count("eth_getBalance") == before {
		t.Fatal("the full node got no call at the head")
	}

	// No archive node: the call goes to the full node, whose error is the answer.
	alone := startRoutingGateway(t, routingYAML("", routeNode("full", full.URL(), "archive: false", "state_window: 4")))
	waitInSync(t, alone, net.Head(), "full")
	_, out := postRaw(t, hc, gatewayURL(alone), callBody("1", "eth_getBalance", fmt.Sprintf("%q", faucet.Hex()), `"0x1"`))
	if !strings.Contains(string(out), "missing trie node") {
		t.Fatalf("without an archive node the answer is %s, want the node's missing trie node", out)
	}
}

// TestArchiveDetectedByProbe leaves archive unset: the gateway's state
// probe (the zero address's balance at head - 2*state_window) finds the
// pruning proxy a full node and the plain node an archive node, and old
// state calls then avoid the full node.
func TestArchiveDetectedByProbe(t *testing.T) {
	net := startNet(t, devnet.Config{Nodes: 2})
	mineIndexed(t, net)
	mineTo(t, net, 16)
	plain := startSpy(t, net.Nodes()[0].HTTPURL(), 0)
	pruning := startSpy(t, net.Nodes()[1].HTTPURL(), 4)
	g := startRoutingGateway(t, routingYAML("",
		routeNode("plain", plain.URL(), "state_window: 4"),
		routeNode("pruning", pruning.URL(), "state_window: 4")))
	waitInSync(t, g, net.Head(), "plain", "pruning")
	waitUntil(t, 15*time.Second, "both nodes' history detected", func() bool {
		return history(g, "plain") == "archive/0/detected" && history(g, "pruning") == "full/4/detected"
	})
	if _, probes := pruning.old(); probes == 0 {
		t.Fatal("the pruning node was detected without a probe")
	}
	oldStateCalls(t, g, net, 40, 4)
	if calls, _ := pruning.old(); calls != 0 {
		t.Fatalf("the detected full node got %d calls for state older than its window", calls)
	}
}
