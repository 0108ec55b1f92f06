package main

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// method_timeouts, in a running evmgate process: a slow method with an
// entry is answered though it takes longer than rpc_timeout and
// request_timeout, without a retry and without its node counted as
// failing; a method without one still times out at rpc_timeout; a
// network's entry wins over the top level's for the same method; /status
// shows them.
func TestMethodTimeoutsAsProcess(t *testing.T) {
	f := fakeNodes(t, 2, 1)
	rpcPort, metricsPort := freePort(t), freePort(t)
	text := func(traceCall string) string {
		return listeners(rpcPort, metricsPort) +
			"request_timeout: 1s\n" +
			"method_timeouts:\n  \"debug_*\": 20s\n  debug_traceTransaction: 20s\n" +
			"networks:\n" +
			"  - name: mainnet\n    chain_id: 1\n    local_poll_interval: 100ms\n    rpc_timeout: 300ms\n    rpc_retries: 1\n" +
			"    method_timeouts: {debug_traceCall: " + traceCall + ", eth_getLogs: 700ms}\n" +
			"    local_nodes:\n" +
			"      - rpc_endpoint: " + f[0].URL() + "\n        name: a\n" +
			"      - rpc_endpoint: " + f[1].URL() + "\n        name: b\n"
	}
	cf := newConfigFiles(t)
	cf.replace(text("2s"))
	p := startProc(t, nil, "-config", cf.path)
	p.waitOutput(p.stderr, "gateway started", 2*time.Minute)
	rpcBase, base := "http://"+addr(rpcPort), "http://"+addr(metricsPort)
	for _, n := range f {
		t.Cleanup(func() {
			for _, m := range []string{"debug_traceTransaction", "debug_traceCall", "eth_call"} {
				n.Release(m)
			}
		})
	}

	// A trace that takes 1.5 s: past rpc_timeout (300ms) and request_timeout
	// (1s), within its method_timeouts entry.
	for _, n := range f {
		n.SetResult("debug_traceTransaction", `{"gas":21000}`)
		n.Hold("debug_traceTransaction")
		time.AfterFunc(1500*time.Millisecond, func() { n.Release("debug_traceTransaction") })
	}
	start := time.Now()
	code, body := rpc(t, rpcBase+"/mainnet", `{"jsonrpc":"2.0","id":1,"method":"debug_traceTransaction","params":["0x01"]}`)
	if code != 200 || !strings.Contains(body, `"result":{"gas":21000}`) {
		t.Fatalf("slow trace with a method timeout: %d %s", code, body)
	}
	if took := time.Since(start); took < time.Second {
		t.Fatalf("answered after %s: the nodes were held 1.5 s", took)
	}
	if got := f[0].Calls("debug_traceTransaction") + f[1].Calls("debug_traceTransaction"); got != 1 {
		t.Errorf("the trace was sent %d times, want once: nothing timed out", got)
	}

	// A method without an entry still has rpc_timeout per try.
	for _, n := range f {
		n.Hold("eth_call")
	}
	code, body = rpc(t, rpcBase+"/mainnet", `{"jsonrpc":"2.0","id":2,"method":"eth_call","params":[{"to":"0x01"},"latest"]}`)
	if code != 504 && code != 503 || !strings.Contains(body, "rpc_timeout passed before it answered") {
		t.Fatalf("eth_call held on every node: %d %s, want a timeout naming rpc_timeout", code, body)
	}

	// The network's debug_traceCall: 2s wins over the top level's debug_*: 20s.
	for _, n := range f {
		n.Hold("debug_traceCall")
	}
	start = time.Now()
	code, body = rpc(t, rpcBase+"/mainnet", `{"jsonrpc":"2.0","id":3,"method":"debug_traceCall","params":[{"to":"0x01"},"latest"]}`)
	took := time.Since(start)
	if code != 504 || !strings.Contains(body, "its method_timeouts entry (2s) passed before a node answered") {
		t.Fatalf("debug_traceCall held on every node: %d %s, want a 504 naming its 2s entry", code, body)
	}
	if took < 1500*time.Millisecond || took > 15*time.Second {
		t.Errorf("debug_traceCall timed out after %s, want about 2s (its network's entry, not the top level's 20s)", took)
	}

	// A batch's tries wait for its slowest call's entry, and say so.
	code, body = rpc(t, rpcBase+"/mainnet", `[{"jsonrpc":"2.0","id":8,"method":"eth_call","params":[{"to":"0x01"},"latest"]},`+
		`{"jsonrpc":"2.0","id":9,"method":"debug_traceCall","params":[{"to":"0x01"},"latest"]}]`)
	if strings.Count(body, "the batch's method_timeouts entry (2s) passed") < 2 {
		t.Errorf("a batch held on every node: %d %s, want both calls' errors naming the batch's 2s entry", code, body)
	}

	// eth_getLogs (its ranges asked by chunks) keeps its entry: a try cut
	// by its entry names it, the budget's end names request_timeout.
	for _, n := range f {
		n.Hold("eth_getLogs")
	}
	code, body = rpc(t, rpcBase+"/mainnet", `{"jsonrpc":"2.0","id":5,"method":"eth_getLogs","params":[{"fromBlock":"0x10","toBlock":"0x20"}]}`)
	if code != 503 && code != 504 || !strings.Contains(body, "its method_timeouts entry (700ms) passed before it answered") {
		t.Errorf("eth_getLogs held on every node: %d %s, want a try cut at its 700ms entry", code, body)
	}
	for _, n := range f {
		n.Release("eth_getLogs")
	}

	// A reload applies a new entry to the calls that start after it.
	cf.replace(text("250ms"))
	logs := p.waitCount(p.stderr, "configuration reloaded", 1, time.Minute)
	if line := grepLines(logs, "configuration reloaded"); !strings.Contains(line, `applied=networks.mainnet.method_timeouts`) {
		t.Errorf("the reload line: %s", line)
	}
	code, body = rpc(t, rpcBase+"/mainnet", `{"jsonrpc":"2.0","id":4,"method":"debug_traceCall","params":[{"to":"0x01"},"latest"]}`)
	if code != 503 && code != 504 || !strings.Contains(body, "its method_timeouts entry (250ms) passed before it answered") {
		t.Errorf("debug_traceCall after the reload: %d %s, want its tries to end at the new 250ms entry", code, body)
	}

	_, st := get(t, base+"/status")
	var status struct {
		Networks []struct {
			MethodTimeouts map[string]string `json:"method_timeouts"`
			Nodes          []struct {
				Name  string `json:"name"`
				State string `json:"state"`
			} `json:"nodes"`
		} `json:"networks"`
	}
	if err := json.Unmarshal([]byte(st), &status); err != nil || len(status.Networks) != 1 {
		t.Fatalf("/status: %v %s", err, st)
	}
	got := status.Networks[0].MethodTimeouts
	if got["debug_*"] != "20s" || got["debug_traceCall"] != "250ms" || got["debug_traceTransaction"] != "20s" || got["eth_getLogs"] != "700ms" || len(got) != 4 {
		t.Errorf("/status method_timeouts = %v", got)
	}
}

// validate names a method_timeouts entry that is not a method or a
// prefix, and one too short, with its key.
func TestMethodTimeoutsValidateAsProcess(t *testing.T) {
	f := fakeNodes(t, 1, 1)
	cfg := filepath.Join(t.TempDir(), "evmgate.yaml")
	writeFile(t, cfg, "method_timeouts: {\"debug_?\": 60s}\n"+
		"networks:\n  - name: mainnet\n    method_timeouts: {eth_getLogs: 0s}\n    local_nodes:\n      - rpc_endpoint: "+f[0].URL()+"\n")
	code, _, stderr := runProc(t, "validate", "-config", cfg)
	if code != 1 || !strings.Contains(stderr, `method_timeouts: "debug_?" is not a method or a prefix ending in *`) ||
		!strings.Contains(stderr, `networks[0].method_timeouts."eth_getLogs": 0s is too short: use 1ms or more`) {
		t.Fatalf("validate: exit %d\n%s", code, stderr)
	}
	writeFile(t, cfg, "method_timeouts: {\"debug_*\": 60s}\n"+
		"networks:\n  - name: mainnet\n    method_timeouts: {eth_getLogs: 20s}\n    local_nodes:\n      - rpc_endpoint: "+f[0].URL()+"\n")
	if code, stdout, stderr := runProc(t, "validate", "-config", cfg); code != 0 || !strings.Contains(stdout, "is valid") {
		t.Fatalf("validate of good method_timeouts: exit %d\n%s%s", code, stdout, stderr)
	}
}

// With hedging on, a slow method with a method_timeouts entry longer than
// rpc_timeout is not copied to a second node (it would be on every call,
// past max_delay); a slow read without an entry, or with a shorter one,
// still is (its copy comes long before its entry could make a retry).
func TestSlowMethodsNotHedgedAsProcess(t *testing.T) {
	f := fakeNodes(t, 2, 1)
	_, rpcBase, _ := twoNodeProc(t, "mainnet", 1, "    local_poll_interval: 100ms\n    cache: false\n"+
		"    hedge: {enabled: true, min_delay: 20ms, max_delay: 50ms}\n"+
		"    rpc_timeout: 5m\n    method_timeouts: {eth_call: 10m, eth_getBalance: 3m}\n", f[0], f[1])
	// slow sends a call both nodes hold until the test lets them go: once
	// it has reached a node, and (wantCopy) its copy the other, or (not)
	// ten times max_delay has passed without one.
	slow := func(method string, wantCopy bool) int64 {
		t.Helper()
		for _, n := range f {
			n.SetResult(method, `"0x01"`)
			n.Record(method) // arrivals are seen while held
			n.Hold(method)
		}
		total := func() int64 { return int64(len(f[0].Arrivals(method)) + len(f[1].Arrivals(method))) }
		type answer struct {
			code int
			body string
		}
		done := make(chan answer, 1)
		go func() {
			code, body := rpc(t, rpcBase+"/mainnet", `{"jsonrpc":"2.0","id":1,"method":"`+method+`","params":["0x01"]}`)
			done <- answer{code, body}
		}()
		eventually(t, time.Minute, method+" to reach a node", func() bool { return total() >= 1 })
		if wantCopy {
			eventually(t, time.Minute, method+"'s copy to reach the other node", func() bool { return total() >= 2 })
		} else {
			time.Sleep(500 * time.Millisecond) // ten times max_delay: a copy would have gone
		}
		for _, n := range f {
			n.Release(method)
		}
		if a := <-done; a.code != 200 || !strings.Contains(a.body, `"result":"0x01"`) {
			t.Fatalf("%s: %d %s", method, a.code, a.body)
		}
		return total()
	}
	if got := slow("eth_call", false); got != 1 {
		t.Errorf("eth_call (a method_timeouts entry) was sent %d times, want once: not hedged", got)
	}
	if got := slow("eth_getCode", true); got != 2 {
		t.Errorf("eth_getCode (no entry) was sent %d times, want 2: hedged after max_delay", got)
	}
	if got := slow("eth_getBalance", true); got != 2 {
		t.Errorf("eth_getBalance (an entry shorter than rpc_timeout) was sent %d times, want 2: hedged after max_delay", got)
	}
}

// A node that has just served a slow method (a trace held 1 s) still gets
// its share of the fast calls: p2c compares answer times that leave slow
// methods out. Before, the node's estimate jumped to the trace's second
// and the next calls all went to the other node.
func TestSlowMethodLeavesAnswerTimeAsProcess(t *testing.T) {
	f := fakeNodes(t, 2, 1)
	_, rpcBase, _ := twoNodeProc(t, "mainnet", 1, "    local_poll_interval: 1s\n    cache: false\n"+
		"    method_timeouts: {\"trace_*\": 1m}\n", f[0], f[1])
	for _, n := range f {
		n.SetResult("trace_block", `[]`)
		n.Record("trace_block")
		n.Hold("trace_block")
		t.Cleanup(func() { n.Release("trace_block") })
	}
	done := make(chan string, 1)
	go func() {
		_, body := rpc(t, rpcBase+"/mainnet", `{"jsonrpc":"2.0","id":1,"method":"trace_block","params":["0x01"]}`)
		done <- body
	}()
	eventually(t, time.Minute, "the trace to reach a node", func() bool {
		return len(f[0].Arrivals("trace_block"))+len(f[1].Arrivals("trace_block")) == 1
	})
	tracer := f[0]
	if len(f[1].Arrivals("trace_block")) == 1 {
		tracer = f[1]
	}
	time.Sleep(time.Second) // the trace's length: what the node's estimate must not take
	tracer.Release("trace_block")
	if body := <-done; !strings.Contains(body, `"result":[]`) {
		t.Fatalf("trace_block: %s", body)
	}
	before := tracer.Calls("eth_getTransactionCount")
	const calls = 40
	for i := range calls {
		if code, body := rpc(t, rpcBase+"/mainnet", `{"jsonrpc":"2.0","id":2,"method":"eth_getTransactionCount","params":["0x01","latest"]}`); code != 200 {
			t.Fatalf("call %d: %d %s", i, code, body)
		}
	}
	// An even split gives the node about 20; fewer than 5 has a chance
	// of about 1e-7.
	if got := tracer.Calls("eth_getTransactionCount") - before; got < 5 {
		t.Errorf("the node that served the trace got %d of the next %d calls, want its share", got, calls)
	}
}
