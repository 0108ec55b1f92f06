//go:build !nodemo

package main

import (
	"bytes"
	"context"
	"net/http"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"
)

// http_over_ws in the binary, in front of a real go-ethereum node: HTTP
// clients' calls go over the node's WebSocket, and answer as the node
// does over HTTP.
func TestHTTPOverWSAsProcessDevnet(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
	defer cancel()
	nd := minedNode(ctx, t)
	// The node's HTTP URL counts the calls of the test's kind that reach it.
	var overHTTP atomic.Int64
	httpURL := relay(t, nd.HTTPURL(), func(_ *http.Request, body []byte) {
		if bytes.Contains(body, []byte(`"x-1"`)) {
			overHTTP.Add(1)
		}
	})
	rpcPort, metricsPort := freePort(t), freePort(t)
	cfg := filepath.Join(t.TempDir(), "evmgate.yaml")
	writeFile(t, cfg, listeners(rpcPort, metricsPort)+"networks:\n  - name: devnet\n    chain_id: 1337\n    cache: false\n"+
		"    local_nodes:\n      - rpc_endpoint: "+httpURL.URL+"\n        ws_endpoint: "+nd.WSURL()+"\n        http_over_ws: true\n")
	p := startProc(t, nil, "-config", cfg)
	p.waitOutput(p.stderr, "gateway started", 2*time.Minute)

	call := `{"jsonrpc":"2.0","id":"x-1","method":"eth_getBlockByNumber","params":["0x1",true]}`
	wantCode, want := rpc(t, nd.HTTPURL(), call)
	var code int
	var got string
	eventually(t, time.Minute, "the node to serve through the gateway", func() bool {
		code, got = rpc(t, "http://"+addr(rpcPort)+"/devnet", call)
		return code == 200
	})
	if code != wantCode || got != want {
		t.Fatalf("through the node's WebSocket: %d %s\ndirect: %d %s", code, got, wantCode, want)
	}
	if n := overHTTP.Load(); n != 0 {
		t.Fatalf("%d calls went to the node's HTTP URL, not over its WebSocket", n)
	}
	if code, _ := p.terminate(30 * time.Second); code != 0 {
		t.Fatalf("exit code %d after SIGTERM", code)
	}
}
