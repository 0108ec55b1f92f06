package main

import (
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"
)

// A gateway whose nodes are reached through an HTTP proxy named by
// HTTP_PROXY, as in a network whose only way out is a proxy: every call
// and probe to the node goes through it. The node's host name resolves
// nowhere; only the proxy knows where it is.
func TestNodesThroughHTTPProxyAsProcess(t *testing.T) {
	f := fakeNodes(t, 1, 1)[0]
	var relayed atomic.Int64
	proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Host != "node.example.invalid:8545" {
			http.Error(w, "unknown host "+r.URL.Host, http.StatusBadGateway)
			return
		}
		relayed.Add(1)
		f.ServeHTTP(w, r)
	}))
	t.Cleanup(proxy.Close)

	rpcPort, metricsPort := freePort(t), freePort(t)
	cfg := filepath.Join(t.TempDir(), "evmgate.yaml")
	writeFile(t, cfg, listeners(rpcPort, metricsPort)+"networks:\n  - name: mainnet\n    chain_id: 1\n    local_nodes:\n"+
		"      - rpc_endpoint: http://node.example.invalid:8545\n")
	p := startProc(t, []string{"HTTP_PROXY=" + proxy.URL, "http_proxy=" + proxy.URL, "NO_PROXY=", "no_proxy="}, "-config", cfg)
	p.waitOutput(p.stderr, "gateway started", 2*time.Minute)
	eventually(t, time.Minute, "the node to answer through the proxy", func() bool {
		code, _ := rpc(t, "http://"+addr(rpcPort)+"/mainnet", apmBlockNumber)
		return code == 200
	})
	before := relayed.Load()
	if code, body := rpc(t, "http://"+addr(rpcPort)+"/mainnet", apmBlockNumber); code != 200 || body != `{"jsonrpc":"2.0","id":1,"result":"0x64"}` {
		t.Fatalf("a call through the proxy: %d %s", code, body)
	}
	if relayed.Load() <= before {
		t.Fatal("the call did not go through the proxy")
	}
	if code, _ := p.terminate(30 * time.Second); code != 0 {
		t.Fatalf("exit code %d after SIGTERM", code)
	}
}
