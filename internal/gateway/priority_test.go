package gateway_test

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
)

const getBalance = `{"jsonrpc":"2.0","id":3,"method":"eth_getBalance","params":["0x0000000000000000000000000000000000000000","latest"]}`

// queueDepth reads evmgate_queue_depth for a class from /metrics.
func queueDepth(t *testing.T, metricsURL, class string) string {
	resp, err := http.Get(metricsURL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	prefix := `evmgate_queue_depth{class="` + class + `",network="mainnet"} `
	for _, l := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(l, prefix) {
			return strings.TrimPrefix(l, prefix)
		}
	}
	return ""
}

// With one worker on the only node, a fast-track call that arrives behind
// nine queued low calls is served next.
func TestFastTrackOvertakesQueuedLowCalls(t *testing.T) {
	f := fakes(t, 1)
	f[0].Hold("eth_getBalance")
	g := startGateway(t, netYAML("    max_concurrency: 1\n    rpc_timeout: 10s\n", nodesYAML("local_nodes", f...)))
	url := g.RPCURL() + "/mainnet"

	var mu sync.Mutex
	var order []string
	var wg sync.WaitGroup
	call := func(name string, hdr ...string) {
		defer wg.Done()
		r := post(t, url, getBalance, hdr...)
		if r.status != 200 {
			t.Errorf("%s: %d %s", name, r.status, r.body)
		}
		mu.Lock()
		order = append(order, name)
		mu.Unlock()
	}
	for i := 0; i < 10; i++ {
		wg.Add(1)
		go call(fmt.Sprintf("low%d", i))
	}
	waitFor(t, "nine low calls queued", func() bool { return queueDepth(t, g.MetricsURL(), "low") == "9" })
	wg.Add(1)
	go call("fast", "X-Fast-Track", "true")
	waitFor(t, "the fast-track call queued", func() bool { return queueDepth(t, g.MetricsURL(), "fast_track") == "1" })
	f[0].Release("eth_getBalance")
	wg.Wait()
	pos := -1
	for i, n := range order {
		if n == "fast" {
			pos = i
		}
	}
	// The low call in flight and the fast-track call granted right after it
	// may answer in either order; every queued low call comes after both.
	if pos > 1 {
		t.Fatalf("completion order %v: the fast-track call finished at position %d, want 0 or 1 (with the low call in flight)", order, pos)
	}
}

// A full class answers at once with 429.
func TestFullQueueAnswers429(t *testing.T) {
	f := fakes(t, 1)
	f[0].Hold("eth_getBalance")
	g := startGateway(t, "scheduler:\n  max_queued_low: 1\n"+netYAML("    max_concurrency: 1\n    rpc_timeout: 10s\n", nodesYAML("local_nodes", f...)))
	url := g.RPCURL() + "/mainnet"
	var wg sync.WaitGroup
	for i := 0; i < 2; i++ {
		wg.Add(1)
		go func() { defer wg.Done(); post(t, url, getBalance) }()
	}
	waitFor(t, "one call queued", func() bool { return queueDepth(t, g.MetricsURL(), "low") == "1" })
	r := post(t, url, getBalance)
	if r.status != 429 || !strings.Contains(r.body, `"code":-32051`) || !strings.Contains(r.body, "low priority queue is full") {
		t.Fatalf("got %d %s", r.status, r.body)
	}
	f[0].Release("eth_getBalance")
	wg.Wait()
}
