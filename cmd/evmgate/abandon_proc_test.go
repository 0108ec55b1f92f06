package main

import (
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// A long call (trace_block, with a method_timeouts entry of 3 minutes)
// whose HTTP/1.1 client gives up after 1 s, in a running evmgate process:
// the JSON-RPC port's fast server sees the client's connection closed, the
// node's request ends at once rather than when the node answers, nothing
// is retried on the other node, and the request's log line says
// client_gone.
func TestLongCallCutWhenClientLeavesAsProcess(t *testing.T) {
	f := fakeNodes(t, 2, 1)
	rpcPort, metricsPort := freePort(t), freePort(t)
	path := filepath.Join(t.TempDir(), "evmgate.yaml")
	writeFile(t, path, strings.Replace(listeners(rpcPort, metricsPort), "log_requests: false", "log_requests: true", 1)+
		"method_timeouts: {\"trace_*\": 3m}\n"+
		"networks:\n  - name: mainnet\n    chain_id: 1\n    rpc_retries: 1\n"+fakeNodesYAML("local_nodes", "", f...))
	for _, n := range f {
		n.SetResult("trace_block", "[]")
		n.Record("trace_block")
		n.Hold("trace_block")
		t.Cleanup(func() { n.Release("trace_block") })
	}
	p := startProc(t, nil, "-config", path)
	p.waitOutput(p.stderr, "gateway started", 2*time.Minute)

	client := &http.Client{Timeout: time.Second}
	resp, err := client.Post("http://"+addr(rpcPort)+"/mainnet", "application/json",
		strings.NewReader(`{"jsonrpc":"2.0","id":1,"method":"trace_block","params":["0x1"]}`))
	if err == nil {
		resp.Body.Close()
		t.Fatalf("trace_block answered %d while every node held it", resp.StatusCode)
	}
	gaveUp := func() int64 { return f[0].GaveUp("trace_block") + f[1].GaveUp("trace_block") }
	eventually(t, 15*time.Second, "the node's held trace_block to end", func() bool { return gaveUp() == 1 })
	logs := p.waitOutput(p.stderr, "method=trace_block", time.Minute)
	if line := grepLines(logs, "method=trace_block"); !strings.Contains(line, "status=client_gone") || !strings.Contains(line, "tries=1") {
		t.Errorf("request line: %s", line)
	}
	if got := len(f[0].Arrivals("trace_block")) + len(f[1].Arrivals("trace_block")); got != 1 {
		t.Errorf("trace_block reached the nodes %d times, want once: a client that left is not retried for", got)
	}
}
