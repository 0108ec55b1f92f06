package main

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/evmgate/evmgate/internal/fakenode"
	"github.com/evmgate/evmgate/internal/gateway"
)

// The hedge and circuit_breaker keys of a network, in a running evmgate
// process: a slow node's reads are hedged and counted in /metrics, and a
// node whose port refuses is kept out by its breaker (in /status and
// /metrics) until it answers again. A bad value is refused with its key
// path.
func TestHedgeAndBreakerAsProcess(t *testing.T) {
	f := fakeNodes(t, 3, 1)
	f[0].SetDelay(100 * time.Millisecond)
	rpcPort, metricsPort := freePort(t), freePort(t)
	dir := t.TempDir()
	cfg := filepath.Join(dir, "evmgate.yaml")
	writeFile(t, cfg, "listen_addr: 127.0.0.1\nport: "+itoa(rpcPort)+"\nmetrics_addr: 127.0.0.1\nmetrics_port: "+itoa(metricsPort)+
		"\nnetworks:\n"+
		"  - name: mainnet\n    chain_id: 1\n    local_poll_interval: 100ms\n    strategy: round_robin\n    cache: false\n"+
		"    hedge:\n      enabled: true\n      quantile: 0.9\n      min_delay: 5ms\n      max_delay: 20ms\n"+
		"    local_nodes:\n      - rpc_endpoint: "+f[0].URL()+"\n        name: slow\n      - rpc_endpoint: "+f[1].URL()+"\n        name: fast\n"+
		"  - name: solo\n    chain_id: 1\n    local_poll_interval: 100ms\n    cache: false\n"+
		"    circuit_breaker:\n      failures: 2\n      failure_ratio: 0.5\n      window: 5s\n      cooldown: 3s\n"+
		"    local_nodes:\n      - rpc_endpoint: "+f[2].URL()+"\n        name: solo-node\n")
	p := startProc(t, nil, "-config", cfg)
	p.waitOutput(p.stderr, "gateway started", 2*time.Minute)
	rpcBase, base := "http://"+addr(rpcPort), "http://"+addr(metricsPort)
	const call = `{"jsonrpc":"2.0","id":1,"method":"eth_blockNumber","params":[]}`

	for i := range 20 {
		if code, body := rpc(t, rpcBase+"/mainnet", call); code != 200 || !strings.Contains(body, `"result":"0x64"`) {
			t.Fatalf("call %d: %d %s", i, code, body)
		}
	}
	_, metrics := get(t, base+"/metrics")
	if !strings.Contains(metrics, `evmgate_hedges_total{network="mainnet",outcome="won"}`) {
		t.Errorf("no won hedge in /metrics:\n%s", linesWith(metrics, "evmgate_hedges_total"))
	}
	if st := statusOf(t, base); !st["mainnet"].Hedging || st["solo"].Hedging {
		t.Errorf("/status hedging: mainnet %v, solo %v", st["mainnet"].Hedging, st["solo"].Hedging)
	}

	if err := f[2].SetMode(fakenode.Refuse); err != nil {
		t.Fatal(err)
	}
	eventually(t, time.Minute, "the refused node's breaker to open", func() bool {
		rpc(t, rpcBase+"/solo", call)
		return breakerIn(statusOf(t, base)["solo"], "solo-node") == "open"
	})
	_, metrics = get(t, base+"/metrics")
	if !strings.Contains(metrics, `evmgate_node_breaker_state{network="solo",rpc_endpoint="solo-node"} 2`) {
		t.Errorf("breaker gauge not open in /metrics:\n%s", linesWith(metrics, "breaker"))
	}
	if err := f[2].SetMode(fakenode.OK); err != nil {
		t.Fatal(err)
	}
	eventually(t, time.Minute, "the breaker to close once the node answers", func() bool {
		rpc(t, rpcBase+"/solo", call)
		return breakerIn(statusOf(t, base)["solo"], "solo-node") == "closed"
	})

	bad := filepath.Join(dir, "bad.yaml")
	writeFile(t, bad, "networks:\n  - name: m\n    local_nodes: [{rpc_endpoint: http://127.0.0.1:1}]\n    hedge: {quantile: 2}\n")
	v := startProc(t, nil, "validate", "-config", bad)
	<-v.done
	if v.exitCode != 1 || !strings.Contains(v.stderr.String(), "networks[0].hedge.quantile") {
		t.Errorf("validate of a bad quantile: exit %d, stderr %s", v.exitCode, v.stderr)
	}
}

func statusOf(t *testing.T, base string) map[string]gateway.NetworkStatus {
	t.Helper()
	_, body := get(t, base+"/status")
	var st gateway.Status
	if err := json.Unmarshal([]byte(body), &st); err != nil {
		t.Fatalf("/status: %v: %s", err, body)
	}
	out := map[string]gateway.NetworkStatus{}
	for _, n := range st.Networks {
		out[n.Name] = n
	}
	return out
}

func breakerIn(n gateway.NetworkStatus, node string) string {
	for _, nd := range n.Nodes {
		if nd.Name == node {
			return nd.Breaker
		}
	}
	return ""
}

// linesWith returns the lines of text that hold sub.
func linesWith(text, sub string) string {
	var out []string
	for line := range strings.SplitSeq(text, "\n") {
		if strings.Contains(line, sub) {
			out = append(out, line)
		}
	}
	return strings.Join(out, "\n")
}
