package main

import (
	"context"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/evmgate/evmgate/internal/fakenode"
	"github.com/evmgate/evmgate/internal/redistest"
)

// The tests below manage nodes and keys through the admin API of a running
// `evmgate -config FILE`, as the README's "Runtime node management" and
// "Runtime keys" sections tell operators to.

const procAdminToken = "admin-token-0123456789"

// adminConfig is a configuration with one network, mainnet, served by
// nodes on rpcPort, and an admin section of the given lines (each
// indented under admin:).
func adminConfig(rpcPort int, admin string, nodes ...*fakenode.Node) string {
	yaml := "listen_addr: 127.0.0.1\nport: " + itoa(rpcPort) + "\nmetrics_port: -1\nadmin:\n" + admin +
		"networks:\n  - name: mainnet\n    local_nodes:\n"
	for _, f := range nodes {
		yaml += "      - rpc_endpoint: " + f.URL() + "\n"
	}
	return yaml
}

// adminCall calls the admin API with token as the bearer token (none when
// empty).
func adminCall(t *testing.T, method, url, token, body string) prioReply {
	t.Helper()
	hdr := ""
	if token != "" {
		hdr = "Authorization"
	}
	return prioCall(t, method, url, body, hdr, "Bearer "+token)
}

// listedNode is one node of GET /admin/networks/{n}/nodes.
type listedNode struct {
	URI    string `json:"uri"`
	Tier   string `json:"tier"`
	Name   string `json:"name"`
	Source string `json:"source"`
}

// adminNodes reads a network's nodes from the admin API at base.
func adminNodes(t *testing.T, base, network string) []listedNode {
	t.Helper()
	r := adminCall(t, http.MethodGet, base+"/admin/networks/"+network+"/nodes", procAdminToken, "")
	var nodes []listedNode
	if err := json.Unmarshal([]byte(r.body), &nodes); r.status != 200 || err != nil {
		t.Fatalf("GET /admin/networks/%s/nodes: %d %s (%v)", network, r.status, r.body, err)
	}
	return nodes
}

// uris returns the URIs of nodes, each with its source: "uri (source)".
func uris(nodes []listedNode) []string {
	out := make([]string, len(nodes))
	for i, n := range nodes {
		out[i] = n.URI + " (" + n.Source + ")"
	}
	return out
}

// answeredBy sends calls web3_clientVersion calls to url and returns the
// names of the fake nodes that answered them (a fake node answers with its
// name), in order.
func answeredBy(t *testing.T, url string, calls int) []string {
	t.Helper()
	var names []string
	for range calls {
		code, body := rpc(t, url, `{"jsonrpc":"2.0","id":1,"method":"web3_clientVersion","params":[]}`)
		var reply struct{ Result string }
		if err := json.Unmarshal([]byte(body), &reply); code != 200 || err != nil || reply.Result == "" {
			t.Fatalf("web3_clientVersion at %s: %d %s", url, code, body)
		}
		names = append(names, reply.Result)
	}
	return names
}

// With admin.token set, every admin route refuses a request without the
// token, with another scheme or with a wrong token (401, the documented
// body, WWW-Authenticate) and changes nothing; with the token it is served.
// A start with the admin API off loopback and no token, or with a short
// token, is refused naming the key.
func TestAdminTokenAsProcess(t *testing.T) {
	f := fakeNodes(t, 2, 1)
	rpcPort, adminPort := freePort(t), freePort(t)
	dir := t.TempDir()
	cfg := filepath.Join(dir, "evmgate.yaml")
	writeFile(t, cfg, adminConfig(rpcPort, "  listen: "+addr(adminPort)+"\n  token: "+procAdminToken+
		"\n  state_file: "+filepath.Join(dir, "state.json")+"\n", f[0]))
	p := startProc(t, nil, "-config", cfg)
	p.waitOutput(p.stderr, "gateway started", 2*time.Minute)
	base := "http://" + addr(adminPort)
	added := `{"uri":"` + f[1].URL() + `"}`
	routes := []struct{ method, path, body string }{
		{http.MethodGet, "/admin/networks", ""},
		{http.MethodGet, "/admin/networks/mainnet/nodes", ""},
		{http.MethodPost, "/admin/networks/mainnet/nodes", added},
		{http.MethodDelete, "/admin/networks/mainnet/nodes", `{"uri":"` + f[0].URL() + `"}`},
		{http.MethodGet, "/nodes", ""},
		{http.MethodPost, "/nodes", added},
		{http.MethodDelete, "/nodes", `{"uri":"` + f[0].URL() + `"}`},
		{http.MethodGet, "/admin/keys", ""},
		{http.MethodPost, "/admin/keys", `{"name":"dapp"}`},
		{http.MethodPost, "/admin/keys/dapp/rotate", ""},
		{http.MethodDelete, "/admin/keys/dapp", ""},
	}
	const refusal = "missing or wrong bearer token: send Authorization: Bearer <admin.token>"
	for _, rt := range routes {
		for _, hdr := range []string{"", "Bearer wrong-token-0123456789", "Bearer " + procAdminToken + "x", "Basic " + procAdminToken, procAdminToken} {
			r := prioCall(t, rt.method, base+rt.path, rt.body, "Authorization", hdr)
			var reply struct{ Error string }
			// The body reads as it decodes: <admin.token>, not \u003cadmin.token\u003e.
			if err := json.Unmarshal([]byte(r.body), &reply); r.status != 401 || err != nil || reply.Error != refusal || !strings.Contains(r.body, refusal) ||
				r.header.Get("WWW-Authenticate") != `Bearer realm="evmgate admin"` {
				t.Errorf("%s %s with Authorization %q: %d %v %s", rt.method, rt.path, hdr, r.status, r.header, r.body)
			}
		}
	}
	// The refused changes changed nothing.
	if got := uris(adminNodes(t, base, "mainnet")); !slices.Equal(got, []string{f[0].URL() + " (config)"}) {
		t.Fatalf("nodes after refused changes: %v", got)
	}
	if r := adminCall(t, http.MethodGet, base+"/admin/keys", procAdminToken, ""); r.status != 200 || r.body != `{"keys":[]}`+"\n" {
		t.Fatalf("keys after a refused create: %d %s", r.status, r.body)
	}
	// With the token every route is served.
	for _, rt := range []struct {
		method, path, body string
		status             int
	}{
		{http.MethodGet, "/admin/networks", "", 200},
		{http.MethodGet, "/nodes", "", 200},
		{http.MethodPost, "/admin/networks/mainnet/nodes", added, 201},
		{http.MethodPost, "/nodes", added, 200},
		{http.MethodDelete, "/nodes", added, 200},
		{http.MethodPost, "/admin/keys", `{"name":"dapp"}`, 201},
		{http.MethodPost, "/admin/keys/dapp/rotate", "", 200},
		{http.MethodDelete, "/admin/keys/dapp", "", 200},
	} {
		if r := adminCall(t, rt.method, base+rt.path, procAdminToken, rt.body); r.status != rt.status {
			t.Errorf("%s %s with the token: %d %s, want %d", rt.method, rt.path, r.status, r.body, rt.status)
		}
	}
	if code, took := p.terminate(30 * time.Second); code != 0 {
		t.Fatalf("exit code %d after SIGTERM (%v)", code, took)
	}

	// Off loopback a token is required, and a token has 16+ characters.
	// 192.0.2.1 (TEST-NET-1) is no address of this machine: a start that
	// went past the check could not listen there.
	for _, c := range []struct{ admin, want string }{
		{"  listen: 192.0.2.1:9102\n", `admin.token: required because admin.listen "192.0.2.1:9102" is not a loopback address`},
		{"  listen: " + addr(adminPort) + "\n  token: short-token\n", "admin.token: must be at least 16 characters"},
	} {
		bad := filepath.Join(dir, "bad.yaml")
		writeFile(t, bad, adminConfig(rpcPort, c.admin, f[0]))
		if code, _, stderr := runProc(t, "-config", bad); code != 1 || !strings.Contains(stderr, c.want) {
			t.Errorf("serving %q: exit %d, %s", c.admin, code, stderr)
		}
		if code, _, stderr := runProc(t, "validate", "-config", bad); code != 1 || !strings.Contains(stderr, c.want) {
			t.Errorf("validate %q: exit %d, %s", c.admin, code, stderr)
		}
	}
}

// A node posted to /admin/networks/{n}/nodes is admitted only when it
// answers the network's chain id, is listed as an admin node and takes
// calls; once deleted it is gone from the listing and takes no more calls.
// The documented refusals: 422 another chain, 409 duplicate, 404 unknown
// network or node, 400 invalid URL. admin.listen ":port" is 127.0.0.1:port.
func TestAdminNodesAtRuntimeAsProcess(t *testing.T) {
	f := fakeNodes(t, 3, 1)
	f[2].SetChainID(5)
	rpcPort, adminPort := freePort(t), freePort(t)
	cfg := filepath.Join(t.TempDir(), "evmgate.yaml")
	writeFile(t, cfg, adminConfig(rpcPort, "  listen: :"+itoa(adminPort)+"\n  token: "+procAdminToken+"\n", f[0]))
	p := startProc(t, nil, "-config", cfg)
	// ":port" listens on 127.0.0.1.
	p.waitOutput(p.stderr, "admin=http://"+addr(adminPort)+" ", 2*time.Minute)
	base, nodes := "http://"+addr(adminPort), "http://"+addr(adminPort)+"/admin/networks/mainnet/nodes"
	calls := "http://" + addr(rpcPort) + "/mainnet"
	if got := answeredBy(t, calls, 10); slices.ContainsFunc(got, func(n string) bool { return n != "fake0" }) {
		t.Fatalf("answers before any change: %v", got)
	}

	r := adminCall(t, http.MethodPost, nodes, procAdminToken, `{"uri":"`+f[1].URL()+`","tier":"local","name":"second"}`)
	if r.status != 201 || r.body != `{"network":"mainnet","uri":"`+f[1].URL()+`","tier":"local","name":"second","source":"admin"}`+"\n" {
		t.Fatalf("POST the second node: %d %s", r.status, r.body)
	}
	if got := uris(adminNodes(t, base, "mainnet")); !slices.Equal(got, []string{f[0].URL() + " (config)", f[1].URL() + " (admin)"}) {
		t.Fatalf("nodes after the POST: %v", got)
	}
	eventually(t, time.Minute, "a call answered by the added node", func() bool {
		return slices.Contains(answeredBy(t, calls, 20), "fake1")
	})

	for _, c := range []struct {
		method, url, body string
		status            int
		reason            string
	}{
		{http.MethodPost, nodes, `{"uri":"` + f[2].URL() + `"}`, 422, "chain 5"},
		{http.MethodPost, nodes, `{"uri":"` + f[1].URL() + `"}`, 409, ""},
		{http.MethodPost, nodes, `{"uri":"` + f[1].URL() + `/"}`, 409, ""}, // the same node, written with a slash
		{http.MethodPost, base + "/admin/networks/nosuch/nodes", `{"uri":"` + f[1].URL() + `"}`, 404, ""},
		{http.MethodPost, nodes, `{"uri":"not a url"}`, 400, ""},
	} {
		r := adminCall(t, c.method, c.url, procAdminToken, c.body)
		if r.status != c.status || !strings.HasPrefix(r.body, `{"error":"`) || !strings.Contains(r.body, c.reason) {
			t.Errorf("%s %s %s: %d %s, want %d with %q", c.method, c.url, c.body, r.status, r.body, c.status, c.reason)
		}
	}

	r = adminCall(t, http.MethodDelete, nodes, procAdminToken, `{"uri":"`+strings.ToUpper(f[1].URL()[:4])+f[1].URL()[4:]+`/"}`)
	if r.status != 200 || !strings.Contains(r.body, `"uri":"`+f[1].URL()+`"`) {
		t.Fatalf("DELETE the second node: %d %s", r.status, r.body)
	}
	if got := uris(adminNodes(t, base, "mainnet")); !slices.Equal(got, []string{f[0].URL() + " (config)"}) {
		t.Fatalf("nodes after the DELETE: %v", got)
	}
	before := f[1].Calls("web3_clientVersion")
	if got := answeredBy(t, calls, 20); slices.ContainsFunc(got, func(n string) bool { return n != "fake0" }) {
		t.Fatalf("answers after the DELETE: %v", got)
	}
	if n := f[1].Calls("web3_clientVersion"); n != before {
		t.Fatalf("the deleted node took %d more calls", n-before)
	}
	if r := adminCall(t, http.MethodDelete, nodes, procAdminToken, `{"uri":"`+f[1].URL()+`"}`); r.status != 404 {
		t.Fatalf("DELETE of a node not there: %d %s", r.status, r.body)
	}
	if code, took := p.terminate(30 * time.Second); code != 0 {
		t.Fatalf("exit code %d after SIGTERM (%v)", code, took)
	}
}

// admin.state_file keeps runtime changes across a restart: a node added
// and a configured node removed through the API, and a runtime key (kept
// in <state_file>.keys, only its hash). Both files are mode 0600. A
// stored node that is down does not stop a later start.
func TestAdminStateFileAsProcess(t *testing.T) {
	f := fakeNodes(t, 2, 1)
	rpcPort, adminPort := freePort(t), freePort(t)
	dir := t.TempDir()
	state := filepath.Join(dir, "state.json")
	cfg := filepath.Join(dir, "evmgate.yaml")
	writeFile(t, cfg, adminConfig(rpcPort, "  listen: "+addr(adminPort)+"\n  token: "+procAdminToken+"\n  state_file: "+state+"\n", f[0]))
	base, nodes := "http://"+addr(adminPort), "http://"+addr(adminPort)+"/admin/networks/mainnet/nodes"
	calls := "http://" + addr(rpcPort) + "/mainnet"

	p := startProc(t, nil, "-config", cfg)
	p.waitOutput(p.stderr, "gateway started", 2*time.Minute)
	if r := adminCall(t, http.MethodPost, nodes, procAdminToken, `{"uri":"`+f[1].URL()+`","tier":"fallback","name":"kept"}`); r.status != 201 {
		t.Fatalf("POST: %d %s", r.status, r.body)
	}
	if r := adminCall(t, http.MethodDelete, nodes, procAdminToken, `{"uri":"`+f[0].URL()+`"}`); r.status != 200 {
		t.Fatalf("DELETE the configured node: %d %s", r.status, r.body)
	}
	r := adminCall(t, http.MethodPost, base+"/admin/keys", procAdminToken, `{"name":"dapp","networks":["mainnet"]}`)
	var created struct{ Key string }
	if err := json.Unmarshal([]byte(r.body), &created); r.status != 201 || err != nil || created.Key == "" {
		t.Fatalf("POST /admin/keys: %d %s", r.status, r.body)
	}
	wantNodes := []string{f[1].URL() + " (admin)"}
	checkKept := func(when string) {
		t.Helper()
		got := adminNodes(t, base, "mainnet")
		if !slices.Equal(uris(got), wantNodes) || got[0].Tier != "fallback" || got[0].Name != "kept" {
			t.Fatalf("nodes %s: %+v, want %v (fallback, kept)", when, got, wantNodes)
		}
		if names := answeredBy(t, calls+"/"+created.Key, 5); slices.ContainsFunc(names, func(n string) bool { return n != "fake1" }) {
			t.Fatalf("answers %s: %v", when, names)
		}
		r := adminCall(t, http.MethodGet, base+"/admin/keys", procAdminToken, "")
		if r.status != 200 || !strings.Contains(r.body, `"name":"dapp"`) || !strings.Contains(r.body, `"source":"runtime"`) {
			t.Fatalf("keys %s: %d %s", when, r.status, r.body)
		}
		for _, file := range []string{state, state + ".keys"} {
			fi, err := os.Stat(file)
			if err != nil {
				t.Fatalf("%s: %v", when, err)
			}
			if mode := fi.Mode().Perm(); mode != 0o600 {
				t.Errorf("%s: %s has mode %o, want 600", when, file, mode)
			}
		}
		if keys, err := os.ReadFile(state + ".keys"); err != nil || strings.Contains(string(keys), created.Key) {
			t.Fatalf("%s: the keys file holds the secret (%v):\n%s", when, err, keys)
		}
	}
	checkKept("before the restart")
	if code, took := p.terminate(30 * time.Second); code != 0 {
		t.Fatalf("exit code %d after SIGTERM (%v)", code, took)
	}

	p = startProc(t, nil, "-config", cfg)
	p.waitOutput(p.stderr, "gateway started", 2*time.Minute)
	checkKept("after the restart")
	if code, took := p.terminate(30 * time.Second); code != 0 {
		t.Fatalf("exit code %d after SIGTERM (%v)", code, took)
	}

	// A stored node that is down does not stop the start.
	f[1].Close()
	p = startProc(t, nil, "-config", cfg)
	p.waitOutput(p.stderr, "gateway started", 2*time.Minute)
	if got := uris(adminNodes(t, base, "mainnet")); !slices.Equal(got, wantNodes) {
		t.Fatalf("nodes after a restart with the stored node down: %v, want %v", got, wantNodes)
	}
	if code, took := p.terminate(30 * time.Second); code != 0 {
		t.Fatalf("exit code %d after SIGTERM (%v)", code, took)
	}
}

// Two replicas on one redis-server share runtime nodes and keys: the first
// names Redis with redis_url, the second with admin.redis_url, both under
// admin.redis_prefix. A node added through one is listed and served by the
// other; a removal through the other reaches the first; a key created
// through one is listed by the other. A change written to Redis without a
// notification is read by the replica with a short admin.resync_interval,
// not by the one with an hour until it is notified.
func TestAdminReplicasShareThroughRedisAsProcess(t *testing.T) {
	srv := redistest.New(t)
	srv.Start()
	f := fakeNodes(t, 3, 1)
	dir := t.TempDir()
	type replica struct {
		base, nodes, calls string
		p                  *proc
	}
	start := func(name, redisLines, adminLines string) replica {
		rpcPort, adminPort := freePort(t), freePort(t)
		cfg := filepath.Join(dir, name+".yaml")
		writeFile(t, cfg, redisLines+adminConfig(rpcPort, "  listen: "+addr(adminPort)+"\n  token: "+procAdminToken+
			"\n  redis_prefix: \"team-a:\"\n"+adminLines, f[0]))
		p := startProc(t, nil, "-config", cfg)
		p.waitOutput(p.stderr, "gateway started", 2*time.Minute)
		base := "http://" + addr(adminPort)
		return replica{base, base + "/admin/networks/mainnet/nodes", "http://" + addr(rpcPort) + "/mainnet", p}
	}
	a := start("a", "redis_url: "+srv.URL()+"\n", "  resync_interval: 1s\n")
	b := start("b", "", "  redis_url: "+srv.URL()+"\n  resync_interval: 1h\n")

	if r := adminCall(t, http.MethodPost, a.nodes, procAdminToken, `{"uri":"`+f[1].URL()+`"}`); r.status != 201 {
		t.Fatalf("POST through A: %d %s", r.status, r.body)
	}
	both := []string{f[0].URL() + " (config)", f[1].URL() + " (admin)"}
	eventually(t, time.Minute, "B listing the node added through A", func() bool {
		return slices.Equal(uris(adminNodes(t, b.base, "mainnet")), both)
	})
	eventually(t, time.Minute, "B sending calls to the node added through A", func() bool {
		return slices.Contains(answeredBy(t, b.calls, 20), "fake1")
	})
	if r := adminCall(t, http.MethodDelete, b.nodes, procAdminToken, `{"uri":"`+f[1].URL()+`"}`); r.status != 200 {
		t.Fatalf("DELETE through B: %d %s", r.status, r.body)
	}
	eventually(t, time.Minute, "A no longer listing the node removed through B", func() bool {
		return slices.Equal(uris(adminNodes(t, a.base, "mainnet")), []string{f[0].URL() + " (config)"})
	})

	if r := adminCall(t, http.MethodPost, a.base+"/admin/keys", procAdminToken, `{"name":"shared"}`); r.status != 201 {
		t.Fatalf("POST /admin/keys through A: %d %s", r.status, r.body)
	}
	eventually(t, time.Minute, "B listing the key created through A", func() bool {
		r := adminCall(t, http.MethodGet, b.base+"/admin/keys", procAdminToken, "")
		return r.status == 200 && strings.Contains(r.body, `"name":"shared"`)
	})

	// Everything is kept under the prefix, nothing under the default one.
	rdb := redis.NewClient(&redis.Options{Addr: srv.Addr()})
	defer rdb.Close()
	ctx := context.Background()
	if keys, err := rdb.Keys(ctx, "team-a:*").Result(); err != nil || !slices.Contains(keys, "team-a:registry:net:mainnet:removed") {
		t.Fatalf("keys under team-a: %v %v", keys, err)
	}
	if keys, err := rdb.Keys(ctx, "evmgate:*").Result(); err != nil || len(keys) != 0 {
		t.Fatalf("keys under the default prefix: %v %v", keys, err)
	}

	// A node written to Redis as evmgate writes it, but without the
	// notification: only a resync reads it.
	seq, err := rdb.Incr(ctx, "team-a:registry:seq").Result()
	if err != nil {
		t.Fatal(err)
	}
	entry, _ := json.Marshal(map[string]any{"tier": "local", "name": "", "seq": seq})
	if err := rdb.HSet(ctx, "team-a:registry:net:mainnet:added", f[2].URL(), entry).Err(); err != nil {
		t.Fatal(err)
	}
	eventually(t, time.Minute, "A (resync_interval 1s) reading the unannounced node", func() bool {
		return slices.Contains(uris(adminNodes(t, a.base, "mainnet")), f[2].URL()+" (admin)")
	})
	if got := uris(adminNodes(t, b.base, "mainnet")); slices.Contains(got, f[2].URL()+" (admin)") {
		t.Fatalf("B (resync_interval 1h) read the unannounced node: %v", got)
	}
	// The notification, on the channel under the prefix, makes B read it.
	if err := rdb.Publish(ctx, "team-a:registry:changes", "mainnet").Err(); err != nil {
		t.Fatal(err)
	}
	eventually(t, time.Minute, "B reading the node once notified", func() bool {
		return slices.Contains(uris(adminNodes(t, b.base, "mainnet")), f[2].URL()+" (admin)")
	})
	for _, r := range []replica{a, b} {
		if code, took := r.p.terminate(30 * time.Second); code != 0 {
			t.Fatalf("exit code %d after SIGTERM (%v)", code, took)
		}
	}
}
