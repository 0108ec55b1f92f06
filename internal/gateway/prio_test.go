package gateway_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
)

// On a network's prio-load-balancer paths, X-PrioLB-QueueSizeStart is the
// length of the call's class queue when it joined it (itself included, 0
// when a worker was free at once), from the network's own scheduler.
func TestPrioPathsReportQueueSizes(t *testing.T) {
	f := fakes(t, 1)
	f[0].Hold("eth_getBalance")
	f[0].Record("eth_getBalance")
	t.Cleanup(func() { f[0].Release("eth_getBalance") })
	g := startGateway(t, "scheduler:\n  low_max_wait: 10m\n"+
		netYAML("    max_concurrency: 1\n    rpc_timeout: 20s\n    paths: [\"/\", \"/sim\"]\n", nodesYAML("local_nodes", f...)))
	url := g.RPCURL() + "/sim"

	starts := map[string]string{}
	var mu sync.Mutex
	var wg sync.WaitGroup
	call := func(id string, hdr ...string) {
		defer wg.Done()
		body := strings.Replace(getBalance, `"id":3`, `"id":"`+id+`"`, 1)
		r := post(t, url, body, hdr...)
		if r.status != 200 || r.header.Get("X-PrioLB-QueueSizeEnd") == "" {
			t.Errorf("%s: %d %v %s", id, r.status, r.header, r.body)
		}
		mu.Lock()
		starts[id] = r.header.Get("X-PrioLB-QueueSizeStart")
		mu.Unlock()
	}
	wg.Add(1)
	go call("busy")
	waitFor(t, "the first call at the node", func() bool { return len(f[0].Arrivals("eth_getBalance")) == 1 })
	for i, c := range []struct{ id, class, depth, hdr string }{
		{"low1", "low", "1", ""}, {"low2", "low", "2", ""}, {"high1", "high", "1", "X-High-Priority"},
	} {
		wg.Add(1)
		if c.hdr != "" {
			go call(c.id, c.hdr, "true")
		} else {
			go call(c.id)
		}
		waitFor(t, fmt.Sprintf("call %d queued", i), func() bool { return queueDepth(t, g.MetricsURL(), c.class) == c.depth })
	}
	f[0].Release("eth_getBalance")
	wg.Wait()
	want := map[string]string{"busy": "0", "low1": "1", "low2": "2", "high1": "1"}
	for id, w := range want {
		if starts[id] != w {
			t.Errorf("%s: X-PrioLB-QueueSizeStart %q, want %q (all: %v)", id, starts[id], w, starts)
		}
	}
}

// With admin.on_rpc, prio-load-balancer's /nodes API is on the JSON-RPC
// listener; a network may start without nodes and get them there.
func TestNodesAPIOnRPCListener(t *testing.T) {
	f := fakes(t, 1)
	g := startGateway(t, "listen_addr: 127.0.0.1\nadmin:\n  on_rpc: true\nlog_level: DEBUG\nnetworks:\n"+
		"  - name: default\n    local_poll_interval: 50ms\n    paths: [\"/\", \"/sim\"]\n")
	base := g.RPCURL()
	nodes := func() []string {
		resp, err := http.Get(base + "/nodes")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var uris []string
		if err := json.NewDecoder(resp.Body).Decode(&uris); err != nil || resp.StatusCode != 200 {
			t.Fatalf("GET /nodes: %d %v", resp.StatusCode, err)
		}
		return uris
	}
	if got := nodes(); len(got) != 0 {
		t.Fatalf("nodes at start: %v", got)
	}
	if r := post(t, base+"/sim", blockNumber); r.status != 500 || !strings.Contains(r.body, "no node") {
		t.Fatalf("call without nodes: %d %s", r.status, r.body)
	}
	uri := f[0].URL() + "?_workers=2"
	for range 2 { // adding a node that is there answers 200 too
		if r := post(t, base+"/nodes", `{"uri":"`+uri+`"}`); r.status != 200 {
			t.Fatalf("POST /nodes: %d %s", r.status, r.body)
		}
	}
	if got := nodes(); len(got) != 1 || got[0] != uri {
		t.Fatalf("nodes after POST: %v", got)
	}
	waitFor(t, "a call answered by the added node", func() bool {
		return post(t, base+"/", blockNumber).status == 200
	})
	resp, err := http.Get(base + "/")
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("GET /: %v %v", resp, err)
	}
	resp.Body.Close()
	req, _ := http.NewRequest(http.MethodDelete, base+"/nodes", strings.NewReader(`{"uri":"`+uri+`"}`))
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || len(nodes()) != 0 {
		t.Fatalf("DELETE /nodes: %d %s, nodes %v", resp.StatusCode, b, nodes())
	}
}
