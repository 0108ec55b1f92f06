package main

import (
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// StakeSquid's fallback switch on a running process: while the local
// nodes are within network_block_diff of the fallback node they serve;
// once they lag more than switch_to_fallback_block_threshold, the fallback
// node serves first; when they catch up, calls come back to them.
func TestFallbackSwitchAsProcess(t *testing.T) {
	f := fakeNodes(t, 3, 1) // fake0 and fake1 local, fake2 fallback
	rpcPort, metricsPort := freePort(t), freePort(t)
	cfg := filepath.Join(t.TempDir(), "evmgate.yaml")
	writeFile(t, cfg, listeners(rpcPort, metricsPort)+`cache:
  enabled: false
networks:
  - name: mainnet
    chain_id: 1
    local_poll_interval: 100ms
    network_block_diff: 5
    switch_to_fallback_enabled: true
    switch_to_fallback_block_threshold: 2
`+fakeNodesYAML("local_nodes", "", f[0], f[1])+fakeNodesYAML("fallback_nodes", "", f[2]))
	p := startProc(t, nil, "-config", cfg)
	p.waitOutput(p.stderr, "gateway started", 2*time.Minute)
	url := "http://" + addr(rpcPort) + "/mainnet"
	answeredBy := func() string {
		code, body := rpc(t, url, clientVersion)
		if code != 200 {
			t.Fatalf("web3_clientVersion: %d %s", code, body)
		}
		for _, n := range f {
			if strings.Contains(body, `"result":"`+n.Name+`"`) {
				return n.Name
			}
		}
		t.Fatalf("an answer from no node: %s", body)
		return ""
	}

	for range 10 {
		if by := answeredBy(); by == "fake2" {
			t.Fatal("the fallback node served while the local nodes were level with it")
		}
	}
	f[0].SetHead(97)
	f[1].SetHead(97)
	eventually(t, time.Minute, "the fallback node to serve once the local nodes lag 3 blocks", func() bool {
		return answeredBy() == "fake2"
	})
	for range 10 {
		if by := answeredBy(); by != "fake2" {
			t.Fatalf("%s served while the local nodes lag more than the threshold", by)
		}
	}
	f[0].SetHead(100)
	f[1].SetHead(100)
	eventually(t, time.Minute, "the local nodes to serve again once level", func() bool {
		return answeredBy() != "fake2"
	})
	if code, _ := p.terminate(30 * time.Second); code != 0 {
		t.Fatalf("exit code %d after SIGTERM", code)
	}
}
