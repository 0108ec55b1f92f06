package gateway_test

import (
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/evmgate/evmgate/internal/fakenode"
	"github.com/evmgate/evmgate/internal/gateway"
	"github.com/evmgate/evmgate/internal/metrics"
)

// sum reads a series of the gateway's own registry.
func sum(t *testing.T, g *gateway.Gateway, name string, match map[string]string) float64 {
	t.Helper()
	v, err := metrics.Sum(g.Registry(), name, match)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// callTimes makes calls eth_blockNumber calls, workers at a time, and
// returns each call's time, sorted.
func callTimes(t *testing.T, url string, calls, workers int) []time.Duration {
	t.Helper()
	times := make([]time.Duration, calls)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var failed []string
	next := make(chan int, calls)
	for i := range calls {
		next <- i
	}
	close(next)
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				start := time.Now()
				r := postQuiet(url, blockNumber)
				times[i] = time.Since(start)
				if r != `{"jsonrpc":"2.0","id":7,"result":"0x64"}` {
					mu.Lock()
					failed = append(failed, r)
					mu.Unlock()
				}
			}
		}()
	}
	wg.Wait()
	if len(failed) > 0 {
		t.Fatalf("%d calls failed, first: %s", len(failed), failed[0])
	}
	slices.Sort(times)
	return times
}

func quantile(sorted []time.Duration, q float64) time.Duration {
	return sorted[min(len(sorted)-1, int(q*float64(len(sorted))))]
}

// hedgeYAML is a network of the fakes, round robin so the slow node gets
// its share, cache off so every call reaches a node.
func hedgeYAML(hedge string, locals []*fakenode.Node, fallbacks ...*fakenode.Node) string {
	extra := "    strategy: round_robin\n    cache: false\n    rpc_timeout: 3s\n" + hedge
	tiers := []string{nodesYAML("local_nodes", locals...)}
	if len(fallbacks) > 0 {
		tiers = append(tiers, nodesYAML("fallback_nodes", fallbacks...))
	}
	return netYAML(extra, tiers...)
}

// TestHedgingCutsTheTail: with one node slow, the p99 of 200 calls is lower
// with hedging than without, and the hedges are counted.
func TestHedgingCutsTheTail(t *testing.T) {
	f := fakes(t, 2)
	f[0].SetDelay(600 * time.Millisecond) // far above the fast node's answer time, even on a loaded machine
	run := func(hedge string) ([]time.Duration, *gateway.Gateway) {
		g := startGateway(t, hedgeYAML(hedge, f))
		waitFor(t, "both nodes eligible", func() bool { return eligibleNodes(g, "mainnet") == 2 })
		return callTimes(t, g.RPCURL()+"/mainnet", 200, 10), g
	}
	plain, _ := run("")
	hedged, g := run("    hedge: {enabled: true, min_delay: 5ms, max_delay: 30ms}\n")
	p99plain, p99hedged := quantile(plain, 0.99), quantile(hedged, 0.99)
	t.Logf("p50 %s → %s, p99 %s → %s", quantile(plain, 0.5), quantile(hedged, 0.5), p99plain, p99hedged)
	if p99hedged >= p99plain {
		t.Errorf("hedged p99 %s is not below the unhedged p99 %s", p99hedged, p99plain)
	}
	t.Logf("hedges: %v", hedgeOutcomes(t, g))
	won := sum(t, g, "evmgate_hedges_total", map[string]string{"network": "mainnet", "outcome": "won"})
	if won == 0 {
		t.Errorf("no hedge won: %v", hedgeOutcomes(t, g))
	}
	// The slow node's lost tries are not successes of its own.
	ok := sum(t, g, "evmgate_node_requests_total", map[string]string{"rpc_endpoint": f[0].Name, "outcome": "ok"})
	lost := sum(t, g, "evmgate_node_requests_total", map[string]string{"rpc_endpoint": f[0].Name, "outcome": "canceled"})
	if lost == 0 || ok+lost > 200 {
		t.Errorf("slow node: %v ok, %v given up: want its given-up tries counted apart", ok, lost)
	}
}

func hedgeOutcomes(t *testing.T, g *gateway.Gateway) map[string]float64 {
	out := map[string]float64{}
	for _, o := range []string{"won", "lost", "failed", "no_node"} {
		out[o] = sum(t, g, "evmgate_hedges_total", map[string]string{"outcome": o})
	}
	return out
}

func eligibleNodes(g *gateway.Gateway, network string) int {
	for _, n := range g.Status().Networks {
		if n.Name == network {
			return n.Healthy
		}
	}
	return 0
}

// TestHedgedNullNeverWins: a fast null from the node a copy went to waits
// for the slower non-null answer of the first node.
func TestHedgedNullNeverWins(t *testing.T) {
	f := fakes(t, 2)
	const tx = `{"hash":"0xabc","blockNumber":"0x60"}`
	f[0].SetResult("eth_getTransactionByHash", tx)
	f[0].SetDelay(60 * time.Millisecond)
	f[1].SetResult("eth_getTransactionByHash", "null")
	// f[0] is the only local node: every call starts there and its copy
	// goes to the fallback f[1], which answers null at once.
	g := startGateway(t, hedgeYAML("    hedge: {enabled: true, min_delay: 1ms, max_delay: 5ms}\n", f[:1], f[1]))
	waitFor(t, "both nodes eligible", func() bool { return eligibleNodes(g, "mainnet") == 2 })
	const call = `{"jsonrpc":"2.0","id":1,"method":"eth_getTransactionByHash","params":["0x` + "ab" + `"]}`
	for i := range 20 {
		r := post(t, g.RPCURL()+"/mainnet", call)
		if r.body != `{"jsonrpc":"2.0","id":1,"result":`+tx+`}` {
			t.Fatalf("call %d: got %d %s", i, r.status, r.body)
		}
	}
	if f[1].Calls("eth_getTransactionByHash") == 0 {
		t.Fatal("no copy reached the second node: the test shows nothing")
	}
	if lost := sum(t, g, "evmgate_hedges_total", map[string]string{"outcome": "lost"}); lost == 0 {
		t.Errorf("hedges: %v, want the copies counted as lost", hedgeOutcomes(t, g))
	}
}

// TestWritesAreNeverHedged: a slow eth_sendRawTransaction reaches one node
// once, however long it takes.
func TestWritesAreNeverHedged(t *testing.T) {
	f := fakes(t, 2)
	for _, n := range f {
		n.SetDelay(40 * time.Millisecond)
		n.SetResult("eth_getFilterChanges", "[]")
	}
	g := startGateway(t, hedgeYAML("    hedge: {enabled: true, min_delay: 1ms, max_delay: 2ms}\n", f))
	waitFor(t, "both nodes eligible", func() bool { return eligibleNodes(g, "mainnet") == 2 })
	for i := range 6 {
		body := fmt.Sprintf(`{"jsonrpc":"2.0","id":%d,"method":"eth_sendRawTransaction","params":["0x%02x"]}`, i, i)
		// The fake answers "already known" after its first transaction.
		if r := post(t, g.RPCURL()+"/mainnet", body); r.status != 200 {
			t.Fatalf("call %d: %d %s", i, r.status, r.body)
		}
	}
	// Filters live on one node: never hedged either.
	for i := range 4 {
		body := fmt.Sprintf(`{"jsonrpc":"2.0","id":%d,"method":"eth_getFilterChanges","params":["0x1"]}`, i)
		post(t, g.RPCURL()+"/mainnet", body)
	}
	sent := f[0].Calls("eth_sendRawTransaction") + f[1].Calls("eth_sendRawTransaction")
	filters := f[0].Calls("eth_getFilterChanges") + f[1].Calls("eth_getFilterChanges")
	if sent != 6 || filters != 4 {
		t.Errorf("the nodes got %d transactions for 6 sent and %d filter polls for 4", sent, filters)
	}
	if h := hedgeOutcomes(t, g); h["won"]+h["lost"]+h["failed"] != 0 {
		t.Errorf("hedges counted for writes: %v", h)
	}
}

// postQuiet posts body and returns the answer's body ("" on failure); it is
// safe to call from any goroutine.
func postQuiet(url, body string) string {
	resp, err := http.Post(url, "application/json", strings.NewReader(body))
	if err != nil {
		return "error: " + err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}
