package gateway_test

import (
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/evmgate/evmgate/internal/fakenode"
)

// scrapeLine returns the value of the sample line that starts with series
// followed by a space, or "" when there is none.
func scrapeLine(t *testing.T, metricsURL, series string) string {
	t.Helper()
	resp, err := http.Get(metricsURL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	for l := range strings.SplitSeq(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, series+" "); ok {
			return v
		}
	}
	return ""
}

// The eligible-node gauge follows the nodes' health down to 0, when /ready
// answers 503, and the queue capacity gauge shows each class's bound.
func TestEligibleNodesAndQueueCapacityMetrics(t *testing.T) {
	f := fakes(t, 2)
	g := startGateway(t, "scheduler:\n  max_queued_high: 5\n"+
		netYAML("    down_after: 1\n", nodesYAML("local_nodes", f...)))
	eligible := func() string {
		return scrapeLine(t, g.MetricsURL(), `evmgate_network_eligible_nodes{network="mainnet"}`)
	}
	if got := eligible(); got != "2" {
		t.Fatalf("eligible nodes = %q, want 2", got)
	}
	for class, want := range map[string]string{"fast_track": "10000", "high": "5", "low": "10000"} {
		series := `evmgate_queue_capacity{class="` + class + `",network="mainnet"}`
		if got := scrapeLine(t, g.MetricsURL(), series); got != want {
			t.Errorf("%s = %q, want %s", series, got, want)
		}
	}
	if err := f[0].SetMode(fakenode.Refuse); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "one eligible node", func() bool { return eligible() == "1" })
	if err := f[1].SetMode(fakenode.Refuse); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "no eligible node", func() bool { return eligible() == "0" })
	resp, err := http.Get(g.MetricsURL() + "/ready")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("/ready = %d with no eligible node, want 503", resp.StatusCode)
	}
}

// StartLocal runs the Engine API multiplexer on loopback with a free port
// whatever engine.listen_addr says, and its metrics are on the gateway's
// registry.
func TestStartLocalStartsEngine(t *testing.T) {
	f := fakes(t, 1)
	secret := filepath.Join(t.TempDir(), "jwt.hex")
	if err := os.WriteFile(secret, []byte(strings.Repeat("ab", 32)), 0o600); err != nil {
		t.Fatal(err)
	}
	g := startGateway(t, "engine:\n  enabled: true\n  listen_addr: 0.0.0.0:1\n  jwt_secret: "+secret+
		"\n  nodes:\n    - url: "+f[0].URL()+"\n"+netYAML("", nodesYAML("local_nodes", f...)))
	if !strings.HasPrefix(g.EngineURL(), "http://127.0.0.1:") {
		t.Fatalf("EngineURL() = %q, want a loopback URL", g.EngineURL())
	}
	resp, err := http.Post(g.EngineURL(), "application/json", strings.NewReader(`{"jsonrpc":"2.0","id":1,"method":"eth_chainId","params":[]}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("call without a token = %d, want 401", resp.StatusCode)
	}
	if got := scrapeLine(t, g.MetricsURL(), "evmgate_engine_auth_failures_total"); got != "1" {
		t.Fatalf("evmgate_engine_auth_failures_total = %q, want 1", got)
	}
}
