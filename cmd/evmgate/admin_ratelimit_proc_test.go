package main

import (
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// A node added through the admin API with a rate_limit (a provider's plan)
// is capped as a configured one is: /status shows its limit, and it gets
// no more calls than its burst at a rate of one call in 1000 s, while
// every call is answered by the other node. A wrong limit is refused
// naming the key.
func TestAdminNodeRateLimitAsProcess(t *testing.T) {
	f := fakeNodes(t, 2, 1)
	rpcPort, metricsPort, adminPort := freePort(t), freePort(t), freePort(t)
	cfg := filepath.Join(t.TempDir(), "evmgate.yaml")
	writeFile(t, cfg, listeners(rpcPort, metricsPort)+"admin:\n  listen: "+addr(adminPort)+"\n"+
		"networks:\n  - name: mainnet\n    chain_id: 1\n    local_poll_interval: 100ms\n    cache: false\n"+
		"    local_nodes:\n      - rpc_endpoint: "+f[0].URL()+"\n        name: own\n")
	p := startProc(t, nil, "-config", cfg)
	p.waitOutput(p.stderr, "gateway started", 2*time.Minute)
	nodes := "http://" + addr(adminPort) + "/admin/networks/mainnet/nodes"
	if r := adminCall(t, http.MethodPost, nodes, "", `{"uri":"`+f[1].URL()+`","name":"provider","rate_limit":{"rate":-2}}`); r.status != 400 ||
		!strings.Contains(r.body, "rate_limit.rate -2 is not a rate") {
		t.Fatalf("POST with a wrong rate_limit: %d %s", r.status, r.body)
	}
	r := adminCall(t, http.MethodPost, nodes, "", `{"uri":"`+f[1].URL()+`","name":"provider","rate_limit":{"rate":0.001,"burst":2}}`)
	if r.status != 201 || !strings.Contains(r.body, `"rate_limit":{"rate":0.001,"burst":2}`) {
		t.Fatalf("POST with a rate_limit: %d %s", r.status, r.body)
	}
	base := "http://" + addr(metricsPort)
	eventually(t, time.Minute, "the added node serving, with its limit in /status", func() bool {
		nd := nodeIn(t, statusOf(t, base)["mainnet"], "provider")
		return nd.Eligible && nd.RateLimit != nil && nd.RateLimit.Rate == 0.001 && nd.RateLimit.Burst == 2
	})
	answeredBy(t, "http://"+addr(rpcPort)+"/mainnet", 40)
	if got := f[1].Calls("web3_clientVersion"); got > 2 {
		t.Errorf("the added node got %d calls, over its burst of 2 at one call in 1000 s", got)
	}
}
