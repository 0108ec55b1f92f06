package main

import (
	"io"
	"net/http"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/evmgate/evmgate/internal/gateway"
)

// nodeIn returns the status of the named node of a network.
func nodeIn(t *testing.T, n gateway.NetworkStatus, name string) gateway.NodeStatus {
	t.Helper()
	for _, nd := range n.Nodes {
		if nd.Name == name {
			return nd
		}
	}
	t.Fatalf("no node %q in /status of %s", name, n.Name)
	return gateway.NodeStatus{}
}

// A node's rate_limit, in a running evmgate process: calls over it wait
// for room instead of failing or going past it, every call is answered,
// and /status shows the limit. A bad value is refused with its key path.
func TestNodeRateLimitAsProcess(t *testing.T) {
	f := fakeNodes(t, 1, 1)
	rpcPort, metricsPort := freePort(t), freePort(t)
	dir := t.TempDir()
	cfg := filepath.Join(dir, "evmgate.yaml")
	writeFile(t, cfg, listeners(rpcPort, metricsPort)+"networks:\n"+
		"  - name: mainnet\n    chain_id: 1\n    local_poll_interval: 100ms\n    cache: false\n"+
		"    local_nodes:\n      - rpc_endpoint: "+f[0].URL()+"\n        name: provider\n        rate_limit: {rate: 20, burst: 2}\n")
	p := startProc(t, nil, "-config", cfg)
	p.waitOutput(p.stderr, "gateway started", 2*time.Minute)
	rpcBase, base := "http://"+addr(rpcPort), "http://"+addr(metricsPort)

	const calls = 30
	start := time.Now()
	var wg sync.WaitGroup
	errs := make(chan string, calls)
	for i := range calls {
		wg.Go(func() {
			code, body := rpc(t, rpcBase+"/mainnet", clientVersion)
			if code != 200 || !strings.Contains(body, `"result"`) {
				errs <- itoa(i) + ": " + itoa(code) + " " + body
			}
		})
	}
	wg.Wait()
	took := time.Since(start)
	close(errs)
	for e := range errs {
		t.Errorf("call %s", e)
	}
	if got := f[0].Calls("web3_clientVersion"); got != calls {
		t.Errorf("the node got %d calls, want %d", got, calls)
	}
	// 2 at once, then 20 a second: the last of 30 goes after 1.4 s at the
	// earliest, however fast the machine.
	if took < 1200*time.Millisecond {
		t.Errorf("%d calls took %s: faster than a limit of 20 a second with a burst of 2 allows", calls, took)
	}
	rl := nodeIn(t, statusOf(t, base)["mainnet"], "provider").RateLimit
	if rl == nil || rl.Rate != 20 || rl.Burst != 2 {
		t.Errorf("/status rate_limit = %+v, want rate 20, burst 2", rl)
	}

	bad := filepath.Join(dir, "bad.yaml")
	writeFile(t, bad, "networks:\n  - name: m\n    local_nodes: [{rpc_endpoint: http://127.0.0.1:1, rate_limit: {rate: -1}}]\n")
	code, _, stderr := runProc(t, "validate", "-config", bad)
	if code != 1 || !strings.Contains(stderr, "networks[0].local_nodes[0].rate_limit.rate") {
		t.Errorf("validate of a negative rate: exit %d, stderr %s", code, stderr)
	}
}

// A node that answers HTTP 429 with Retry-After, in a running evmgate
// process: the call is answered by another node, the node is passed over
// while it cools down (shown in /status) and is not marked down for it.
func TestTooManyRequestsAsProcess(t *testing.T) {
	f := fakeNodes(t, 3, 1)
	f[0].SetTooMany("web3_clientVersion", "60")
	f[2].SetTooMany("web3_clientVersion", "60")
	rpcPort, metricsPort := freePort(t), freePort(t)
	cfg := filepath.Join(t.TempDir(), "evmgate.yaml")
	writeFile(t, cfg, listeners(rpcPort, metricsPort)+"networks:\n"+
		"  - name: mainnet\n    chain_id: 1\n    local_poll_interval: 100ms\n    cache: false\n    strategy: round_robin\n"+
		"    local_nodes:\n      - rpc_endpoint: "+f[0].URL()+"\n        name: provider\n      - rpc_endpoint: "+f[1].URL()+"\n        name: own\n"+
		"  - name: solo\n    chain_id: 1\n    local_poll_interval: 100ms\n    cache: false\n"+
		"    local_nodes:\n      - rpc_endpoint: "+f[2].URL()+"\n        name: solo-provider\n")
	p := startProc(t, nil, "-config", cfg)
	p.waitOutput(p.stderr, "gateway started", 2*time.Minute)
	rpcBase, base := "http://"+addr(rpcPort), "http://"+addr(metricsPort)

	for i := 0; f[0].Calls("web3_clientVersion") == 0; i++ {
		if i == 20 {
			t.Fatal("20 calls in round robin and none reached the provider")
		}
		if code, body := rpc(t, rpcBase+"/mainnet", clientVersion); code != 200 || !strings.Contains(body, `"result"`) {
			t.Fatalf("call %d: %d %s", i, code, body)
		}
	}
	for i := range 10 {
		if code, body := rpc(t, rpcBase+"/mainnet", clientVersion); code != 200 || !strings.Contains(body, `"result"`) {
			t.Fatalf("call %d after the 429: %d %s", i, code, body)
		}
	}
	if got := f[0].Calls("web3_clientVersion"); got != 1 {
		t.Errorf("the provider got %d calls, want 1: it was not passed over after its 429 with Retry-After: 60", got)
	}
	nd := nodeIn(t, statusOf(t, base)["mainnet"], "provider")
	if nd.CoolingDownMS < 30_000 || nd.CoolingDownMS > 60_000 {
		t.Errorf("/status cooling_down_ms = %d, want up to 60 s", nd.CoolingDownMS)
	}
	if nd.State != "up" {
		t.Errorf("the provider's state is %q after a 429, want up", nd.State)
	}
	p.waitOutput(p.stderr, "node rate limited", time.Minute)
	if line := grepLines(p.stderr.String(), "node rate limited"); !strings.Contains(line, "node=provider") || !strings.Contains(line, "level=WARN") {
		t.Errorf("the cool-down's log line: %q", line)
	}
	if _, m := get(t, base+"/metrics"); !strings.Contains(m, `evmgate_node_cooldowns_total{network="mainnet",rpc_endpoint="provider",source="answer"} 1`) {
		t.Errorf("no cool-down counted in /metrics:\n%s", linesWith(m, "cooldowns"))
	}

	// With no other node, a call is answered at once that every node
	// cools down past its deadline, rather than after request_timeout, and
	// told when to come back.
	start := time.Now()
	resp, err := http.Post(rpcBase+"/solo", "application/json", strings.NewReader(clientVersion))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 429 || !strings.Contains(string(body), `"code":-32051`) || !strings.Contains(string(body), "rate limit") {
		t.Errorf("a call to a network whose only node cools down: %d %s", resp.StatusCode, body)
	}
	if ra, _ := strconv.Atoi(resp.Header.Get("Retry-After")); ra < 30 || ra > 60 {
		t.Errorf("Retry-After %q, want the node's cool-down left, up to 60 s", resp.Header.Get("Retry-After"))
	}
	if took := time.Since(start); took > 20*time.Second {
		t.Errorf("it took %s: it waited out request_timeout (30s)", took)
	}
}

// Calls a rate-limited node cannot take before their deadline, given the
// calls queued ahead of them, are answered 429 at once, not when their
// request_timeout passes; the others are served.
func TestRateLimitRefusesLateCallsEarlyAsProcess(t *testing.T) {
	f := fakeNodes(t, 1, 1)
	rpcPort, metricsPort := freePort(t), freePort(t)
	cfg := filepath.Join(t.TempDir(), "evmgate.yaml")
	writeFile(t, cfg, listeners(rpcPort, metricsPort)+"request_timeout: 10s\nnetworks:\n"+
		"  - name: mainnet\n    chain_id: 1\n    local_poll_interval: 100ms\n    cache: false\n"+
		"    local_nodes:\n      - rpc_endpoint: "+f[0].URL()+"\n        name: provider\n        rate_limit: {rate: 2, burst: 1}\n")
	p := startProc(t, nil, "-config", cfg)
	p.waitOutput(p.stderr, "gateway started", 2*time.Minute)
	url := "http://" + addr(rpcPort) + "/mainnet"

	type answer struct {
		code       int
		retryAfter string
		took       time.Duration
	}
	const calls = 40
	answers := make(chan answer, calls)
	for range calls {
		go func() {
			start := time.Now()
			resp, err := http.Post(url, "application/json", strings.NewReader(clientVersion))
			if err != nil {
				answers <- answer{code: -1}
				return
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			answers <- answer{resp.StatusCode, resp.Header.Get("Retry-After"), time.Since(start)}
		}()
	}
	var ok, refused, early int
	for range calls {
		a := <-answers
		switch a.code {
		case 200:
			ok++
		case 504:
			// Let in on an estimate the calls ahead of it outlasted (a busy
			// machine): its deadline passed while it waited.
		case 429:
			refused++
			if a.retryAfter == "" {
				t.Errorf("a 429 without Retry-After")
			}
			if a.took < 5*time.Second {
				early++
			}
		default:
			t.Errorf("an answer %d", a.code)
		}
	}
	// 2 a second for 10 s: about 20 calls fit, the rest are refused, most
	// on arrival (a call let in may still find, at its turn, that the
	// calls ahead took longer than foreseen, and be refused then, or time
	// out before its turn).
	if ok < 5 || refused < 5 {
		t.Errorf("%d calls served, %d refused: want both", ok, refused)
	}
	if early < refused/2 {
		t.Errorf("%d of %d refused calls were answered within 5 s: the others waited for most of their request_timeout (10s)", early, refused)
	}
}

// queued is how many calls of a network wait in its priority queues.
func queued(n gateway.NetworkStatus) int {
	total := 0
	for _, q := range n.Queue {
		total += q.Depth
	}
	return total
}

// A call waiting for the room of the one node that serves its method does
// not hold back the calls another node can take: they are answered while
// it waits.
func TestRateLimitedCallDoesNotHoldBackOthersAsProcess(t *testing.T) {
	f := fakeNodes(t, 2, 1)
	rpcPort, metricsPort := freePort(t), freePort(t)
	cfg := filepath.Join(t.TempDir(), "evmgate.yaml")
	writeFile(t, cfg, listeners(rpcPort, metricsPort)+"networks:\n"+
		"  - name: mainnet\n    chain_id: 1\n    local_poll_interval: 100ms\n    cache: false\n"+
		"    local_nodes:\n"+
		"      - rpc_endpoint: "+f[0].URL()+"\n        name: own\n        methods: {deny: [eth_getBalance]}\n"+
		"      - rpc_endpoint: "+f[1].URL()+"\n        name: provider\n        rate_limit: {rate: 0.1, burst: 1}\n"+
		"        methods: {allow: [eth_getBalance, eth_blockNumber, eth_getBlockByNumber, eth_chainId]}\n")
	p := startProc(t, nil, "-config", cfg)
	p.waitOutput(p.stderr, "gateway started", 2*time.Minute)
	rpcBase, base := "http://"+addr(rpcPort), "http://"+addr(metricsPort)
	const balance = `{"jsonrpc":"2.0","id":1,"method":"eth_getBalance","params":["0x0000000000000000000000000000000000000001","latest"]}`

	if code, body := rpc(t, rpcBase+"/mainnet", balance); code != 200 || !strings.Contains(body, `"result"`) {
		t.Fatalf("first balance: %d %s", code, body)
	}
	second := make(chan string, 1)
	go func() {
		code, body := rpc(t, rpcBase+"/mainnet", balance)
		second <- itoa(code) + " " + body
	}()
	eventually(t, time.Minute, "the second balance call to wait for the provider's room", func() bool {
		return queued(statusOf(t, base)["mainnet"]) > 0
	})
	for i := range 5 {
		if code, body := rpc(t, rpcBase+"/mainnet", clientVersion); code != 200 || !strings.Contains(body, `"result":"fake0"`) {
			t.Fatalf("call %d while the balance call waits: %d %s", i, code, body)
		}
		select {
		case got := <-second:
			t.Fatalf("the balance call was answered (%s) before the other calls, after %d: it did not wait for the rate limit of 1 call in 10 s", got, i)
		default:
		}
	}
	select {
	case got := <-second:
		if !strings.HasPrefix(got, "200 ") || !strings.Contains(got, `"result"`) {
			t.Fatalf("the waiting balance call: %s", got)
		}
	case <-time.After(time.Minute):
		t.Fatal("the waiting balance call was never answered")
	}
}
