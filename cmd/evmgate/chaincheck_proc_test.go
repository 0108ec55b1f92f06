package main

import (
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// A serving node that is re-pointed at another chain without a call
// meeting it (no traffic; a restart between two probes) is found by its
// probes, which ask its chain id again from time to time, and it serves no
// call of the network while its chain is not the network's.
func TestChainIDCheckedAgainAsProcess(t *testing.T) {
	f := fakeNodes(t, 2, 137)
	rpcPort, metricsPort := freePort(t), freePort(t)
	cfg := filepath.Join(t.TempDir(), "evmgate.yaml")
	writeFile(t, cfg, listeners(rpcPort, metricsPort)+"networks:\n"+
		"  - name: polygon\n    chain_id: 137\n    local_poll_interval: 100ms\n    cache: false\n"+
		"    local_nodes:\n"+
		"      - rpc_endpoint: "+f[0].URL()+"\n        name: p1\n"+
		"      - rpc_endpoint: "+f[1].URL()+"\n        name: p2\n")
	p := startProc(t, nil, "-config", cfg)
	p.waitOutput(p.stderr, "gateway started", 2*time.Minute)
	base := "http://" + addr(metricsPort)
	f[1].SetChainID(1)
	eventually(t, time.Minute, "p2 to be found on chain 1", func() bool {
		return nodeIn(t, statusOf(t, base)["polygon"], "p2").State == "wrong_chain"
	})
	before := f[1].Calls("eth_getBalance")
	for i := range 10 {
		if code, body := rpc(t, "http://"+addr(rpcPort)+"/polygon", `{"jsonrpc":"2.0","id":1,"method":"eth_getBalance","params":["0x01","latest"]}`); code != 200 {
			t.Fatalf("call %d: %d %s", i, code, body)
		}
	}
	if got := f[1].Calls("eth_getBalance") - before; got != 0 {
		t.Errorf("the node on chain 1 served %d calls of chain 137", got)
	}
}

// A probe that meets a refused connection marks the node down at once, as
// a call does, not after down_after failed probes: a node that is gone (or
// restarting, perhaps on another chain) serves nothing until a probe has
// checked it again.
func TestRefusedProbeMarksDownAsProcess(t *testing.T) {
	f := fakeNodes(t, 2, 1)
	rpcPort, metricsPort := freePort(t), freePort(t)
	cfg := filepath.Join(t.TempDir(), "evmgate.yaml")
	writeFile(t, cfg, listeners(rpcPort, metricsPort)+"networks:\n"+
		"  - name: mainnet\n    chain_id: 1\n    local_poll_interval: 2s\n    down_after: 5\n"+
		"    local_nodes:\n"+
		"      - rpc_endpoint: "+f[0].URL()+"\n        name: a\n"+
		"      - rpc_endpoint: "+f[1].URL()+"\n        name: b\n")
	p := startProc(t, nil, "-config", cfg)
	p.waitOutput(p.stderr, "gateway started", 2*time.Minute)
	base := "http://" + addr(metricsPort)
	f[1].Close()
	eventually(t, time.Minute, "b to be marked down", func() bool {
		return nodeIn(t, statusOf(t, base)["mainnet"], "b").State == "down"
	})
	_, m := get(t, base+"/metrics")
	probeFails := regexp.MustCompile(`loadbalancer_node_errors_total\{network="mainnet",rpc_endpoint="b",type="probe"\} (\d+)`).FindStringSubmatch(m)
	if probeFails == nil {
		t.Fatalf("no failed probe of b counted:\n%s", grepLines(m, "loadbalancer_node_errors_total"))
	}
	if n, _ := strconv.Atoi(probeFails[1]); n >= 5 {
		t.Errorf("b was marked down after %d failed probes, want at the first refused one (down_after is 5)", n)
	}
	if r := nodeIn(t, statusOf(t, base)["mainnet"], "b").Reason; !strings.Contains(r, "refused") && !strings.Contains(r, "dial") {
		t.Errorf("b's reason %q does not say the connection was refused", r)
	}
}
