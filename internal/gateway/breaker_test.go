package gateway_test

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/evmgate/evmgate/internal/fakenode"
	"github.com/evmgate/evmgate/internal/gateway"
)

// breakerOf reads a node's breaker state from GET /status.
func breakerOf(t *testing.T, g *gateway.Gateway, node string) string {
	t.Helper()
	resp, err := http.Get(g.MetricsURL() + "/status")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var st gateway.Status
	if err := json.Unmarshal(b, &st); err != nil {
		t.Fatalf("GET /status: %v: %s", err, b)
	}
	for _, n := range st.Networks {
		for _, nd := range n.Nodes {
			if nd.Name == node {
				return nd.Breaker
			}
		}
	}
	t.Fatalf("node %s not in /status: %s", node, b)
	return ""
}

// TestBreakerOpensOnRefusedPortAndCloses: a node whose port refuses opens
// its breaker as soon as the failures are counted; it then gets no calls,
// and after the cool-down a trial call closes it again once the node is
// back. /status and the metrics show each step.
func TestBreakerOpensOnRefusedPortAndCloses(t *testing.T) {
	f := fakes(t, 1)
	g := startGateway(t, netYAML("    cache: false\n    rpc_retries: 2\n"+
		"    circuit_breaker: {failures: 3, failure_ratio: 0.5, window: 10s, cooldown: 3s}\n",
		nodesYAML("local_nodes", f...)))
	url := g.RPCURL() + "/mainnet"
	waitFor(t, "the node eligible", func() bool { return eligibleNodes(g, "mainnet") == 1 })
	if st := breakerOf(t, g, f[0].Name); st != "closed" {
		t.Fatalf("breaker of a healthy node: %q, want closed", st)
	}

	if err := f[0].SetMode(fakenode.Refuse); err != nil {
		t.Fatal(err)
	}
	// A single node that is down is still tried (fail open): each call
	// tries it up to three times, so the failures come in a burst.
	for i := 0; i < 3 && breakerOf(t, g, f[0].Name) != "open"; i++ {
		post(t, url, blockNumber)
	}
	if st := breakerOf(t, g, f[0].Name); st != "open" {
		t.Fatalf("breaker after a burst of refused calls: %q, want open", st)
	}
	if v := sum(t, g, "evmgate_node_breaker_state", map[string]string{"rpc_endpoint": f[0].Name}); v != 2 {
		t.Errorf("evmgate_node_breaker_state = %v, want 2 (open)", v)
	}
	tries := sum(t, g, "evmgate_node_requests_total", map[string]string{"rpc_endpoint": f[0].Name})
	r := post(t, url, blockNumber)
	if r.status != http.StatusServiceUnavailable || !strings.Contains(r.body, "no node") {
		t.Errorf("with the only node's breaker open the client got %d %s", r.status, r.body)
	}
	if after := sum(t, g, "evmgate_node_requests_total", map[string]string{"rpc_endpoint": f[0].Name}); after != tries {
		t.Errorf("the node got %v calls while its breaker was open", after-tries)
	}

	if err := f[0].SetMode(fakenode.OK); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the breaker to close after the node came back", func() bool {
		post(t, url, blockNumber) // the trial, once the cool-down passed and a probe saw the node up
		return breakerOf(t, g, f[0].Name) == "closed"
	})
	if r := post(t, url, blockNumber); r.body != `{"jsonrpc":"2.0","id":7,"result":"0x64"}` {
		t.Errorf("after the breaker closed: %d %s", r.status, r.body)
	}
	for _, to := range []string{"open", "half_open", "closed"} {
		if v := sum(t, g, "evmgate_breaker_transitions_total", map[string]string{"rpc_endpoint": f[0].Name, "to": to}); v < 1 {
			t.Errorf("evmgate_breaker_transitions_total{to=%q} = %v, want at least 1", to, v)
		}
	}
}

// TestBreakerKeepsAFlakyNodeOut: a node whose calls fail half the time
// never makes down_after failures in a row, so health keeps it; its breaker
// takes it out while the other node serves every call.
func TestBreakerKeepsAFlakyNodeOut(t *testing.T) {
	f := fakes(t, 2)
	g := startGateway(t, netYAML("    cache: false\n    strategy: round_robin\n    down_after: 1000\n"+
		"    circuit_breaker: {failures: 4, failure_ratio: 0.5, cooldown: 1h}\n",
		nodesYAML("local_nodes", f...)))
	url := g.RPCURL() + "/mainnet"
	waitFor(t, "both nodes eligible", func() bool { return eligibleNodes(g, "mainnet") == 2 })
	if err := f[0].SetMode(fakenode.Status500); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the failing node's breaker to open", func() bool {
		if r := post(t, url, blockNumber); r.status != 200 {
			t.Fatalf("a call failed while another node could answer: %d %s", r.status, r.body)
		}
		return breakerOf(t, g, f[0].Name) == "open"
	})
	before := f[0].Requests()
	tries := sum(t, g, "evmgate_node_requests_total", map[string]string{"rpc_endpoint": f[0].Name})
	for range 20 {
		if r := post(t, url, blockNumber); r.status != 200 {
			t.Fatalf("%d %s", r.status, r.body)
		}
	}
	// Probes still reach it (health runs beside the breaker); calls do not.
	if after := sum(t, g, "evmgate_node_requests_total", map[string]string{"rpc_endpoint": f[0].Name}); after != tries {
		t.Errorf("the node got %v calls while its breaker was open", after-tries)
	}
	t.Logf("requests at the open node during 20 calls (probes): %d", f[0].Requests()-before)
}

// TestReloadHedgeAndBreakers: a reload turns hedging on and the breakers
// off; an open breaker that a reload retires lets its node back in at once.
func TestReloadHedgeAndBreakers(t *testing.T) {
	f := fakes(t, 2)
	// Health never takes the node out here (down_after), and calls take
	// turns: otherwise a probe may see the failing node first, health
	// drops it and no call ever reaches its breaker.
	base := "    cache: false\n    rpc_retries: 2\n    strategy: round_robin\n    down_after: 1000\n"
	g := startGateway(t, netYAML(base+"    circuit_breaker: {failures: 1, failure_ratio: 0.1, cooldown: 1h}\n",
		nodesYAML("local_nodes", f...)))
	url := g.RPCURL() + "/mainnet"
	waitFor(t, "both nodes eligible", func() bool { return eligibleNodes(g, "mainnet") == 2 })
	if err := f[0].SetMode(fakenode.Status500); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the failing node's breaker to open", func() bool {
		post(t, url, blockNumber)
		return breakerOf(t, g, f[0].Name) == "open"
	})
	if err := f[0].SetMode(fakenode.OK); err != nil {
		t.Fatal(err)
	}

	reloadTo(t, g, netYAML(base+"    hedge: {enabled: true}\n    circuit_breaker: {enabled: false}\n",
		nodesYAML("local_nodes", f...)))
	var hedging bool
	for _, n := range g.Status().Networks {
		hedging = hedging || n.Name == "mainnet" && n.Hedging
	}
	if !hedging {
		t.Error("hedging is not on after the reload")
	}
	if st := breakerOf(t, g, f[0].Name); st != "" {
		t.Errorf("breaker after turning breakers off: %q, want none", st)
	}
	waitFor(t, "the node back in", func() bool { return eligibleNodes(g, "mainnet") == 2 })
}
