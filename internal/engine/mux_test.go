package engine

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/goleak"
)

func TestAuthRejected(t *testing.T) {
	t.Parallel()
	f := newFakeEL(t)
	tm := newTestMux(t, []*fakeEL{f})
	var wrong Secret
	wrong[0] = 9
	now := time.Now()
	body := `{"jsonrpc":"2.0","id":1,"method":"eth_chainId","params":[]}`
	tests := []struct{ name, auth, want string }{
		{"missing", "", "missing token"},
		{"wrong secret", "Bearer " + wrong.Mint(now), "invalid token"},
		{"stale", "Bearer " + tm.secret.Mint(now.Add(-2*time.Minute)), "stale token"},
		{"future", "Bearer " + tm.secret.Mint(now.Add(2*time.Minute)), "future token"},
		{"alg none", "Bearer eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0.eyJpYXQiOjE3MDAwMDAwMDB9.", "invalid token"},
	}
	for _, tc := range tests {
		code, out := tm.postAuth(t, tc.auth, body)
		if code != http.StatusUnauthorized || !strings.Contains(string(out), tc.want) {
			t.Errorf("%s: http %d %q, want 401 %q", tc.name, code, out, tc.want)
		}
	}
	if n := len(f.callsOf("eth_chainId")); n != 0 {
		t.Fatalf("rejected calls reached the node %d times", n)
	}
}

func TestStatusAPI(t *testing.T) {
	t.Parallel()
	fakes := threeFakes(t)
	fakes[1].setSyncing(`{"startingBlock":"0x0","currentBlock":"0x1","highestBlock":"0x9"}`)
	fakes[2].srv.Close()
	tm := newTestMux(t, fakes[:2], func(c *Config) {
		c.Nodes = append(c.Nodes, NodeConfig{URL: fakes[2].srv.URL, JWTSecretPath: fakes[2].path})
	})
	get := func(path, token string) (int, statusReport) {
		req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, tm.srv.URL+path, nil)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		res, err := tm.srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		var r statusReport
		_ = json.NewDecoder(res.Body).Decode(&r)
		return res.StatusCode, r
	}
	if code, _ := get("/recheck", ""); code != http.StatusUnauthorized {
		t.Fatalf("/recheck without token: %d", code)
	}
	if code, _ := get("/recheck", "nope"); code != http.StatusUnauthorized {
		t.Fatalf("/recheck with a wrong token: %d", code)
	}
	code, r := get("/recheck", "admin-token-0123456")
	if code != http.StatusOK || r.RecheckTime == nil {
		t.Fatalf("/recheck: %d %+v", code, r)
	}
	want := statusReport{AliveNodes: []string{fakes[0].srv.URL}, SyncingNodes: []string{fakes[1].srv.URL},
		DeadNodes: []string{fakes[2].srv.URL}, PrimaryNode: fakes[0].srv.URL}
	if strings.Join(r.AliveNodes, ",") != strings.Join(want.AliveNodes, ",") ||
		strings.Join(r.SyncingNodes, ",") != strings.Join(want.SyncingNodes, ",") ||
		strings.Join(r.DeadNodes, ",") != strings.Join(want.DeadNodes, ",") || r.PrimaryNode != want.PrimaryNode ||
		len(r.ResponseTimes) != 2 {
		t.Fatalf("report %+v, want %+v", r, want)
	}
	if code, r2 := get("/metrics", ""); code != http.StatusOK || r2.PrimaryNode != r.PrimaryNode {
		t.Fatalf("/metrics: %d %+v", code, r2)
	}

	extra := newFakeEL(t)
	addBody := `{"nodes":["` + extra.srv.URL + `#jwt-secret=` + extra.path + `#timeout=2000"]}`
	post := func(body string) int {
		req, _ := http.NewRequestWithContext(t.Context(), http.MethodPost, tm.srv.URL+"/add_nodes", strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer admin-token-0123456")
		res, err := tm.srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		return res.StatusCode
	}
	if code := post(addBody); code != http.StatusOK {
		t.Fatalf("/add_nodes: %d", code)
	}
	if code := post(addBody); code != http.StatusBadRequest {
		t.Fatalf("adding the same node twice: %d", code)
	}
	n := tm.nodeList()[3]
	if n.getState() != stateAlive || n.timeout != 2*time.Second || n.secret != extra.secret {
		t.Fatalf("added node %+v", n)
	}
}

func TestAdminOffWithoutToken(t *testing.T) {
	t.Parallel()
	tm := newTestMux(t, []*fakeEL{newFakeEL(t)}, func(c *Config) { c.AdminToken = "" })
	req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, tm.srv.URL+"/recheck", nil)
	req.Header.Set("Authorization", "Bearer ")
	res, err := tm.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusForbidden {
		t.Fatalf("/recheck with no admin token configured: %d", res.StatusCode)
	}
}

func TestPrimaryIsFastestSynced(t *testing.T) {
	t.Parallel()
	fakes := threeFakes(t)
	tm := newTestMux(t, fakes, func(c *Config) { c.Nodes[0].DoNotUse = true })
	tm.recheck(t.Context())
	nodes := tm.nodeList()
	nodes[1].rtt.Store(int64(5 * time.Millisecond))
	nodes[2].rtt.Store(int64(time.Millisecond))
	if p := tm.primary(); p != nodes[2] {
		t.Fatalf("primary %v, want the fastest voting node", p.name)
	}
	nodes[0].rtt.Store(1) // fastest, but do-not-use
	if p := tm.primary(); p != nodes[2] {
		t.Fatalf("a do-not-use node became primary")
	}
	tm.setState(nodes[2], stateSyncing, nil)
	if p := tm.primary(); p != nodes[1] {
		t.Fatalf("primary %v, want the synced node", p.name)
	}
	if v := tm.voters(); len(v) != 1 || v[0] != nodes[1] {
		t.Fatalf("voters %v", v)
	}
}

// TestRecheckRevivesNode: a dead node comes back on the next probe once it
// answers again, and a failure triggers a probe without waiting for the
// interval.
func TestRecheckRevivesNode(t *testing.T) {
	t.Parallel()
	f := newFakeEL(t)
	hold := make(chan struct{})
	f.on("eth_syncing", answer{hold: hold})
	tm := newTestMux(t, []*fakeEL{f}, func(c *Config) { c.RecheckInterval = "1h"; c.NodeTimeout = "200ms" })
	if err := tm.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	if err := tm.Start(t.Context()); err == nil {
		t.Fatal("second Start must fail")
	}
	n := tm.nodeList()[0]
	waitState(t, n, stateDead)
	f.on("eth_syncing", answer{result: "false"})
	close(hold)
	// A failing call kicks a probe at once (the interval is an hour), and
	// the probe now finds the node alive.
	f.on("eth_chainId", answer{status: http.StatusBadGateway})
	if res := tm.callRaw(t, "eth_chainId", `[]`); !res.failed() {
		t.Fatalf("eth_chainId on a failing node: %s", res.Result)
	}
	waitState(t, n, stateAlive)
}

func waitState(t *testing.T, n *node, want state) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for n.getState() != want {
		if time.Now().After(deadline) {
			t.Fatalf("node %s is %s, want %s", n.name, n.getState(), want)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestMetricsRegistered(t *testing.T) {
	t.Parallel()
	f := newFakeEL(t)
	f.on("engine_newPayloadV4", answer{result: statusJSON("VALID", hashA)})
	reg := prometheus.NewRegistry()
	_, path := randomSecret(t)
	cfg := Config{Enabled: true, JWTSecretPath: path, Nodes: []NodeConfig{{URL: f.srv.URL, JWTSecretPath: f.path}}}
	m, err := New(cfg, nil, reg)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	m2, err := New(cfg, nil, reg) // a second Mux on the same registry shares the collectors
	if err != nil {
		t.Fatalf("second New on one registry: %v", err)
	}
	m2.Close()
	rep := m.dispatch(context.Background(), request{ID: json.RawMessage("1"), Method: "engine_newPayloadV4", Params: json.RawMessage(newPayloadParams)})
	if string(rep.result) != statusJSON("VALID", hashA) {
		t.Fatalf("dispatch %s %s", rep.result, rep.errRaw)
	}
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	names := map[string]bool{}
	for _, fam := range families {
		if !strings.HasPrefix(fam.GetName(), "evmgate_engine_") {
			t.Errorf("metric %s lacks the evmgate_engine_ prefix", fam.GetName())
		}
		names[fam.GetName()] = true
	}
	for _, want := range []string{"evmgate_engine_votes_total", "evmgate_engine_node_status", "evmgate_engine_node_voting", "evmgate_engine_node_latency_seconds", "evmgate_engine_request_duration_seconds"} {
		if !names[want] {
			t.Errorf("metric %s missing; have %v", want, names)
		}
	}
}

// TestCloseStopsGoroutines runs a Mux through its life and checks that
// Close leaves nothing behind. It is not parallel: it compares goroutines.
func TestCloseStopsGoroutines(t *testing.T) {
	before := goleak.IgnoreCurrent()
	func() {
		f := newFakeEL(t)
		f.on("engine_newPayloadV4", answer{result: statusJSON("VALID", hashA)})
		_, path := randomSecret(t)
		m, err := New(Config{Enabled: true, JWTSecretPath: path, RecheckInterval: "10ms",
			Nodes: []NodeConfig{{URL: f.srv.URL, JWTSecretPath: f.path}}}, nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		if err := m.Start(context.Background()); err != nil {
			t.Fatal(err)
		}
		rep := m.dispatch(context.Background(), request{ID: json.RawMessage("1"), Method: "engine_newPayloadV4", Params: json.RawMessage(newPayloadParams)})
		if rep.errRaw != nil {
			t.Fatal(string(rep.errRaw))
		}
		if err := m.Close(); err != nil {
			t.Fatal(err)
		}
		if err := m.Close(); err != nil {
			t.Fatal("second Close:", err)
		}
		if err := m.Start(context.Background()); err == nil {
			t.Fatal("Start after Close must fail")
		}
		f.srv.Close()
	}()
	goleak.VerifyNone(t, before)
}

// A node's name (status, logs, errors) hides an API key in its URL's path,
// query or user info, as the gateway's node names do.
func TestNodeNameHidesKeys(t *testing.T) {
	_, path := randomSecret(t)
	const key = "0123456789abcdef0123456789abcdef"
	m, err := New(Config{Enabled: true, JWTSecretPath: path,
		Nodes: []NodeConfig{{URL: "https://u:pw@el.example/v2/" + key + "?apikey=zzz"}}}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	name := m.nodeList()[0].name
	if name != "https://el.example/v2/0123…" {
		t.Fatalf("node name %q", name)
	}
}
