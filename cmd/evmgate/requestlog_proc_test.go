package main

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// The request log as the process writes it: lines come out while the
// gateway serves (in batches, within a moment), and every line of a run of
// calls is there once the process has stopped.
func TestRequestLogAsProcess(t *testing.T) {
	f := fakeNodes(t, 1, 1)
	rpcPort, metricsPort := freePort(t), freePort(t)
	path := filepath.Join(t.TempDir(), "evmgate.yaml")
	cfg := strings.Replace(listeners(rpcPort, metricsPort), "log_requests: false", "log_requests: true", 1)
	writeFile(t, path, cfg+"networks:\n  - name: mainnet\n"+fakeNodesYAML("local_nodes", "", f[0]))
	p := startProc(t, nil, "-config", path)
	p.waitOutput(p.stderr, "gateway started", 2*time.Minute)
	url := "http://" + addr(rpcPort) + "/mainnet"

	if code, body := rpc(t, url, `{"jsonrpc":"2.0","id":"first","method":"eth_chainId"}`); code != 200 {
		t.Fatalf("eth_chainId: %d %s", code, body)
	}
	line := p.waitOutput(p.stderr, "request completed", time.Minute)
	if !strings.Contains(line, "method=eth_chainId") || !strings.Contains(line, "status=ok") {
		t.Fatalf("request line %q", line)
	}

	const calls = 200
	for i := range calls {
		body := fmt.Sprintf(`{"jsonrpc":"2.0","id":%d,"method":"eth_chainId"}`, i)
		if code, answer := rpc(t, url, body); code != 200 {
			t.Fatalf("call %d: %d %s", i, code, answer)
		}
	}
	if code, _ := p.terminate(time.Minute); code != 0 {
		t.Fatalf("exit code %d", code)
	}
	if n := strings.Count(p.stderr.String(), "msg=\"request completed\""); n != calls+1 {
		t.Fatalf("%d request lines after the process ended, want %d", n, calls+1)
	}
	if !strings.Contains(p.stderr.String(), "shut down") {
		t.Fatal("no shutdown line")
	}
}
