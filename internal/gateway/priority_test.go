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
// nine queued low calls reaches the node next. The node records the order
// in which calls arrive (the grant order: one worker sends one at a time).
func TestFastTrackOvertakesQueuedLowCalls(t *testing.T) {
	f := fakes(t, 1)
	f[0].Hold("eth_getBalance")
	f[0].Record("eth_getBalance")
	g := startGateway(t, netYAML("    max_concurrency: 1\n    rpc_timeout: 10s\n    cache: false # identical calls must queue, not share one call\n", nodesYAML("local_nodes", f...)))
	url := g.RPCURL() + "/mainnet"

	var wg sync.WaitGroup
	call := func(id string, hdr ...string) {
		defer wg.Done()
		body := strings.Replace(getBalance, `"id":3`, `"id":"`+id+`"`, 1)
		if r := post(t, url, body, hdr...); r.status != 200 {
			t.Errorf("%s: %d %s", id, r.status, r.body)
		}
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
	order := f[0].Arrivals("eth_getBalance")
	if len(order) != 11 || order[1] != `"fast"` {
		t.Fatalf("arrival order at the node %v: the fast-track call must come second, right after the low call that was in flight", order)
	}
}

// A full class answers at once with 429.
func TestFullQueueAnswers429(t *testing.T) {
	f := fakes(t, 1)
	f[0].Hold("eth_getBalance")
	g := startGateway(t, "scheduler:\n  max_queued_low: 1\n"+netYAML("    max_concurrency: 1\n    rpc_timeout: 10s\n    cache: false\n", nodesYAML("local_nodes", f...)))
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
