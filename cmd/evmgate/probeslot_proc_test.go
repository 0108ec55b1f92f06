package main

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

// max_concurrency counts a node's calls, not its probes, in a running
// evmgate process: with max_concurrency 2 and two traces (method_timeouts)
// the node holds far past rpc_timeout, the node's probes still answer, so
// the node stays up with no failures counted; the traces are answered
// when the node lets them go.
func TestProbesBesideHeldCallsAsProcess(t *testing.T) {
	f := fakeNodes(t, 1, 1)
	node := f[0]
	const trace = "debug_traceTransaction"
	node.SetResult(trace, `{"gas":21000}`)
	node.Hold(trace)
	node.Record(trace)
	t.Cleanup(func() { node.Release(trace) })
	rpcPort, metricsPort := freePort(t), freePort(t)
	cf := newConfigFiles(t)
	cf.replace(listeners(rpcPort, metricsPort) +
		"networks:\n" +
		"  - name: mainnet\n    chain_id: 1\n    local_poll_interval: 500ms\n    rpc_timeout: 1s\n" +
		"    method_timeouts: {\"debug_trace*\": 3m}\n" +
		"    local_nodes:\n" +
		"      - rpc_endpoint: " + node.URL() + "\n        name: a\n        max_concurrency: 2\n")
	p := startProc(t, nil, "-config", cf.path)
	p.waitOutput(p.stderr, "gateway started", 2*time.Minute)
	rpcURL := "http://" + addr(rpcPort) + "/mainnet"
	if st := nodeStatusOf(t, metricsPort, "mainnet", "a"); st.State != "up" {
		t.Fatalf("node before the traces: %+v, want up", st)
	}

	type answer struct {
		code int
		body string
		err  error
	}
	traces := make(chan answer, 2)
	client := &http.Client{Timeout: 2 * time.Minute}
	for i := range 2 {
		go func() {
			body := fmt.Sprintf(`{"jsonrpc":"2.0","id":%d,"method":%q,"params":["0x%x"]}`, i+1, trace, i+1)
			resp, err := client.Post(rpcURL, "application/json", strings.NewReader(body))
			if err != nil {
				traces <- answer{err: err}
				return
			}
			b, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			traces <- answer{code: resp.StatusCode, body: string(b), err: err}
		}()
	}
	eventually(t, 30*time.Second, "both traces held by the node", func() bool { return len(node.Arrivals(trace)) == 2 })

	// Both of the node's calls are taken for as long as the traces last.
	// Over ten probe intervals (four rpc_timeouts) the probes keep being
	// answered: the node stays up, with no failure counted.
	probed := node.Calls("eth_syncing") // one per probe
	end := time.Now().Add(5 * time.Second)
	for time.Now().Before(end) {
		st := nodeStatusOf(t, metricsPort, "mainnet", "a")
		if st.State != "up" || st.Failures != 0 {
			t.Fatalf("node while its two calls are held: state %s, %d failures, reason %q; want up with none",
				st.State, st.Failures, st.Reason)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if got := node.Calls("eth_syncing") - probed; got < 3 {
		t.Errorf("%d probes answered over 5s at local_poll_interval 500ms, want several", got)
	}
	if logs := p.stderr.String(); strings.Contains(logs, "node probe failed") || strings.Contains(logs, "to=down") {
		t.Errorf("probe failures logged while the calls were held:\n%s",
			grepLines(logs, "node probe failed")+"\n"+grepLines(logs, "node state changed"))
	}

	node.Release(trace)
	for range 2 {
		a := <-traces
		if a.err != nil || a.code != 200 || !strings.Contains(a.body, `"result":{"gas":21000}`) {
			t.Errorf("trace after its release: %d %s %v", a.code, a.body, a.err)
		}
	}
	if got := node.Calls(trace); got != 2 {
		t.Errorf("the node answered %d traces, want 2 (none retried)", got)
	}
	if code, body := rpc(t, rpcURL, `{"jsonrpc":"2.0","id":9,"method":"eth_blockNumber","params":[]}`); code != 200 || !strings.Contains(body, `"result":"0x64"`) {
		t.Errorf("eth_blockNumber after the traces: %d %s", code, body)
	}
}
