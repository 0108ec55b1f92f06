package gateway_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/evmgate/evmgate/internal/fakenode"
	"github.com/evmgate/evmgate/internal/redistest"
)

func adminCall(t *testing.T, method, url, token, body string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(method, url, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	var b strings.Builder
	buf := make([]byte, 4096)
	for {
		n, err := resp.Body.Read(buf)
		b.Write(buf[:n])
		if err != nil {
			break
		}
	}
	return resp.StatusCode, b.String()
}

const adminToken = "0123456789abcdef-token"

func adminYAML(redisURL string) string {
	s := "admin:\n  listen: 127.0.0.1:0\n  token: " + adminToken + "\n  resync_interval: 1s\n"
	if redisURL != "" {
		s += "redis_url: " + redisURL + "\n"
	}
	return s
}

// servedBy reports whether the gateway sends traffic to the fake node.
func servedBy(t *testing.T, url string, f *fakenode.Node) bool {
	before := f.Calls("web3_clientVersion")
	for i := 0; i < 20; i++ {
		post(t, url, `{"jsonrpc":"2.0","id":1,"method":"web3_clientVersion","params":[]}`)
	}
	return f.Calls("web3_clientVersion") > before
}

func TestAdminAPIAddsAndRemovesNodes(t *testing.T) {
	f := fakes(t, 3)
	f[2].SetChainID(5)
	g := startGateway(t, adminYAML("")+netYAML("", nodesYAML("local_nodes", f[0])))
	admin := g.AdminURL() + "/admin/networks/mainnet/nodes"

	if code, out := adminCall(t, "POST", admin, "", `{"uri":"`+f[1].URL()+`"}`); code != 401 {
		t.Fatalf("without the token: %d %s", code, out)
	}
	if code, out := adminCall(t, "POST", admin, adminToken, `{"uri":"`+f[2].URL()+`"}`); code != 422 || !strings.Contains(out, "chain 5") {
		t.Fatalf("a node on another chain must be refused with the reason: %d %s", code, out)
	}
	if code, out := adminCall(t, "POST", admin, adminToken, `{"uri":"not a url"}`); code != 400 {
		t.Fatalf("an invalid URL: %d %s", code, out)
	}
	if code, out := adminCall(t, "POST", admin, adminToken, `{"uri":"`+f[1].URL()+`?_workers=4","tier":"local"}`); code != 201 {
		t.Fatalf("add: %d %s", code, out)
	}
	url := g.RPCURL() + "/mainnet"
	waitFor(t, "the added node in rotation", func() bool { return servedBy(t, url, f[1]) })
	// prio-load-balancer's API on the default network.
	code, out := adminCall(t, "GET", g.AdminURL()+"/nodes", adminToken, "")
	var uris []string
	if code != 200 || json.Unmarshal([]byte(out), &uris) != nil || len(uris) != 2 {
		t.Fatalf("GET /nodes: %d %s", code, out)
	}
	if code, out := adminCall(t, "DELETE", g.AdminURL()+"/nodes", adminToken, `{"uri":"`+f[0].URL()+`"}`); code != 200 {
		t.Fatalf("delete: %d %s", code, out)
	}
	waitFor(t, "the removed node out of rotation", func() bool { return !servedBy(t, url, f[0]) })
	if n := len(g.Nodes("mainnet")); n != 1 {
		t.Fatalf("nodes after the delete: %d, want 1", n)
	}
}

func TestReplicasShareNodesThroughRedis(t *testing.T) {
	rs := redistest.New(t)
	rs.Start()
	f := fakes(t, 2)
	yaml := adminYAML(rs.URL()) + netYAML("", nodesYAML("local_nodes", f[0]))
	a := startGateway(t, yaml)
	b := startGateway(t, yaml)

	if code, out := adminCall(t, "POST", a.AdminURL()+"/admin/networks/mainnet/nodes", adminToken, `{"uri":"`+f[1].URL()+`"}`); code != 201 {
		t.Fatalf("add through A: %d %s", code, out)
	}
	waitFor(t, "B serving the node added through A", func() bool { return servedBy(t, b.RPCURL()+"/mainnet", f[1]) })

	// Redis goes away: both keep serving with the set they know.
	rs.Stop()
	for _, g := range []string{a.RPCURL(), b.RPCURL()} {
		for i := 0; i < 10; i++ {
			if r := post(t, g+"/mainnet", blockNumber); r.status != 200 {
				t.Fatalf("with Redis down a replica answered %d %s", r.status, r.body)
			}
		}
	}
	if n := len(b.Nodes("mainnet")); n != 2 {
		t.Fatalf("B has %d nodes with Redis down, want 2", n)
	}
	// Redis comes back (empty): the replicas write back what they know and resync.
	rs.Start()
	waitFor(t, "a removal through B after Redis returned", func() bool {
		code, _ := adminCall(t, "DELETE", b.AdminURL()+"/admin/networks/mainnet/nodes", adminToken, `{"uri":"`+f[1].URL()+`"}`)
		return code == 200
	})
	waitFor(t, "A applying the removal made through B", func() bool { return len(a.Nodes("mainnet")) == 1 })
}
