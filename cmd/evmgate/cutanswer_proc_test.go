package main

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// An answer a node cuts short, in a running evmgate process: when none of
// it has reached the client (a held answer over HTTP/1.1, any answer over
// a client WebSocket), the call is tried on another node and the client
// gets a whole answer; when every node cuts it, a JSON-RPC error, never a
// cut message.
func TestCutAnswerTriedElsewhereAsProcess(t *testing.T) {
	f := fakeNodes(t, 2, 1)
	rpcPort, metricsPort := freePort(t), freePort(t)
	cfg := filepath.Join(t.TempDir(), "evmgate.yaml")
	writeFile(t, cfg, listeners(rpcPort, metricsPort)+"networks:\n"+
		"  - name: mainnet\n    chain_id: 1\n    local_poll_interval: 100ms\n    rpc_retries: 1\n    cache: false\n"+
		"    local_nodes:\n"+
		"      - rpc_endpoint: "+f[0].URL()+"\n        name: cuts\n"+
		"      - rpc_endpoint: "+f[1].URL()+"\n        name: whole\n")
	result := `"0x` + strings.Repeat("ab", 100_000) + `"` // 200 kB: held, not streamed
	for _, n := range f {
		n.SetResult("debug_traceTransaction", result)
	}
	f[0].SetCut("debug_traceTransaction")
	p := startProc(t, nil, "-config", cfg)
	p.waitOutput(p.stderr, "gateway started", 2*time.Minute)
	rpcBase := "http://" + addr(rpcPort)
	const trace = `{"jsonrpc":"2.0","id":7,"method":"debug_traceTransaction","params":["0x01"]}`
	want := `{"jsonrpc":"2.0","id":7,"result":` + result + `}`

	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	c, status, body, err := wsDial(ctx, "ws://"+addr(rpcPort)+"/mainnet", "")
	if err != nil {
		t.Fatalf("WebSocket: %d %s %v", status, body, err)
	}
	defer c.CloseNow()
	c.SetReadLimit(1 << 20)

	// Until the cutting node has been tried on each path (the balancer
	// picks between two equal nodes), every answer is whole.
	for i := 0; f[0].Calls("debug_traceTransaction") < 2 && i < 60; i++ {
		if code, got := rpc(t, rpcBase+"/mainnet", trace); code != 200 || got != want {
			t.Fatalf("HTTP call %d: %d, %d bytes %.80q…, want the whole answer", i, code, len(got), got)
		}
		if got := wsCall(ctx, t, c, trace); got != want {
			t.Fatalf("WebSocket call %d: %d bytes %.80q…, want the whole answer", i, len(got), got)
		}
	}
	if f[0].Calls("debug_traceTransaction") < 2 {
		t.Fatal("the node that cuts its answers was never tried")
	}

	// Both nodes cut: an error, not a cut answer.
	f[1].SetCut("debug_traceTransaction")
	code, got := rpc(t, rpcBase+"/mainnet", trace)
	if code != 503 || !strings.Contains(got, `"error"`) || !strings.Contains(got, "cuts") || !strings.Contains(got, "whole") {
		t.Errorf("HTTP, every node cuts: %d %.300s, want 503 and an error naming both nodes", code, got)
	}
	if got := wsCall(ctx, t, c, trace); !strings.Contains(got, `"error"`) || !strings.HasSuffix(got, "}") || strings.Contains(got, "abab") {
		t.Errorf("WebSocket, every node cuts: %.300s, want a JSON-RPC error", got)
	}
}
