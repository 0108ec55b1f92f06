package main

import (
	"encoding/json"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/evmgate/evmgate/internal/fakenode"
	"github.com/evmgate/evmgate/internal/gateway"
)

// The status endpoints of a running evmgate process: the page is served
// from the binary and loads nothing from elsewhere, /status/history fills
// up once a second, and a long poll of /status answers as soon as a node
// changes state.
func TestStatusEndpointsAsProcess(t *testing.T) {
	f := fakeNodes(t, 2, 1)
	rpcPort, metricsPort := freePort(t), freePort(t)
	cfg := filepath.Join(t.TempDir(), "evmgate.yaml")
	writeFile(t, cfg, "listen_addr: 127.0.0.1\nport: "+itoa(rpcPort)+"\nmetrics_addr: 127.0.0.1\nmetrics_port: "+itoa(metricsPort)+
		"\nnetworks:\n  - name: mainnet\n    chain_id: 1\n    local_poll_interval: 100ms\n    local_nodes:\n"+
		"      - rpc_endpoint: "+f[0].URL()+"\n        name: a\n      - rpc_endpoint: "+f[1].URL()+"\n        name: b\n")
	p := startProc(t, nil, "-config", cfg)
	p.waitOutput(p.stderr, "gateway started", 2*time.Minute)
	base := "http://" + addr(metricsPort)

	code, page := get(t, base+"/status/page")
	if code != 200 || !strings.Contains(page, "<title>evmgate status</title>") || !strings.Contains(page, "/status/history") {
		t.Fatalf("/status/page: %d %.200s", code, page)
	}
	for _, remote := range []string{"<script src", "<link ", "@import", "url("} {
		if strings.Contains(page, remote) {
			t.Errorf("the page loads something (%q): it must work offline", remote)
		}
	}

	for i := range 3 {
		rpc(t, "http://"+addr(rpcPort)+"/mainnet", `{"jsonrpc":"2.0","id":`+itoa(i)+`,"method":"eth_blockNumber","params":[]}`)
	}
	var h gateway.History
	eventually(t, time.Minute, "three samples in /status/history", func() bool {
		_, body := get(t, base+"/status/history")
		h = gateway.History{}
		return json.Unmarshal([]byte(body), &h) == nil && len(h.Networks) == 1 && len(h.Networks[0].Time) >= 3
	})
	if nh := h.Networks[0]; nh.Name != "mainnet" || len(nh.Nodes) != 2 || len(nh.CallsPerSecond) != len(nh.Time) {
		t.Fatalf("history: %+v", nh)
	}
	last := h.Networks[0].Time[len(h.Networks[0].Time)-1]
	_, body := get(t, base+"/status/history?since="+itoa(int(last)))
	var later gateway.History
	if err := json.Unmarshal([]byte(body), &later); err != nil || (len(later.Networks) > 0 && later.Networks[0].Time[0] <= last) {
		t.Fatalf("since=%d: %s", last, body)
	}

	var st gateway.Status
	_, body = get(t, base+"/status")
	if err := json.Unmarshal([]byte(body), &st); err != nil || len(st.Networks) != 1 || len(st.Networks[0].Queue) != 3 {
		t.Fatalf("/status: %v %s", err, body)
	}
	type answer struct {
		st   gateway.Status
		took time.Duration
	}
	done := make(chan answer, 1)
	go func() {
		start := time.Now()
		resp, err := http.Get(base + "/status?wait=30s&version=" + itoa(int(st.Version)))
		var a answer
		if err == nil {
			_ = json.NewDecoder(resp.Body).Decode(&a.st)
			resp.Body.Close()
		}
		a.took = time.Since(start)
		done <- a
	}()
	if err := f[1].SetMode(fakenode.Refuse); err != nil {
		t.Fatal(err)
	}
	a := <-done
	t.Logf("the long poll answered %v after it was sent", a.took.Round(time.Millisecond))
	if a.st.Version <= st.Version || a.took >= 30*time.Second {
		t.Fatalf("the long poll answered after %v with version %d (was %d)", a.took, a.st.Version, st.Version)
	}
	if n := a.st.Networks[0].Nodes[1]; n.Name != "b" || n.State != "down" || n.Eligible || n.Reason == "" {
		t.Fatalf("node b after it stopped: %+v", n)
	}

	for _, bad := range []struct{ query, says string }{
		{"/status?wait=soon&version=1", "wait: want a duration"},
		{"/status?wait=1m&version=1", "up to 30s"},
		{"/status?wait=1s&version=x", "version: want"},
		{"/status/history?since=yesterday", "since: want Unix milliseconds"},
	} {
		if code, body := get(t, base+bad.query); code != 400 || !strings.Contains(body, bad.says) {
			t.Errorf("%s: %d %q, want 400 saying %q", bad.query, code, body, bad.says)
		}
	}
	if code, took := p.terminate(30 * time.Second); code != 0 {
		t.Fatalf("exit code %d after SIGTERM (%v)", code, took)
	}
}

// nodeStatusOf reads a node's entry in the /status of the process whose
// metrics listener is on metricsPort.
func nodeStatusOf(t *testing.T, metricsPort int, network, name string) gateway.NodeStatus {
	t.Helper()
	_, body := get(t, "http://"+addr(metricsPort)+"/status")
	var st gateway.Status
	if err := json.Unmarshal([]byte(body), &st); err != nil {
		t.Fatalf("/status: %v %.300s", err, body)
	}
	for _, n := range st.Networks {
		for _, nd := range n.Nodes {
			if n.Name == network && nd.Name == name {
				return nd
			}
		}
	}
	t.Fatalf("no node %s in network %s in /status: %.300s", name, network, body)
	return gateway.NodeStatus{}
}
