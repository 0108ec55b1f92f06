package registry

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil"
)

const testToken = "0123456789abcdef-token"

func TestAPIAuth(t *testing.T) {
	f := newFake("mainnet", "sepolia")
	r := newTestRegistry(t, Config{AdminListen: "0.0.0.0:9102", AdminToken: testToken}, f)
	h := r.Handler()
	for _, tc := range []struct {
		name   string
		header string
		want   int
	}{
		{"no header", "", http.StatusUnauthorized},
		{"wrong token", "Bearer wrong-token-wrong-token", http.StatusUnauthorized},
		{"token as basic", "Basic " + testToken, http.StatusUnauthorized},
		{"token without scheme", testToken, http.StatusUnauthorized},
		{"right token", "Bearer " + testToken, http.StatusOK},
		{"scheme case", "bearer " + testToken, http.StatusOK},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, path := range []string{"/nodes", "/admin/networks", "/admin/networks/mainnet/nodes"} {
				req := httptest.NewRequest(http.MethodGet, path, nil)
				if tc.header != "" {
					req.Header.Set("Authorization", tc.header)
				}
				rec := httptest.NewRecorder()
				h.ServeHTTP(rec, req)
				if rec.Code != tc.want {
					t.Fatalf("GET %s: %d, want %d", path, rec.Code, tc.want)
				}
				if tc.want == http.StatusUnauthorized && rec.Header().Get("WWW-Authenticate") == "" {
					t.Fatal("401 without WWW-Authenticate")
				}
			}
		})
	}
	// A change without the token changes nothing.
	code, _ := call(t, h, http.MethodPost, "/nodes", "", map[string]string{"uri": "http://10.9.9.9:8545"})
	if code != http.StatusUnauthorized {
		t.Fatalf("POST without token: %d", code)
	}
	if _, admits := f.counts(); admits != 0 || len(f.set("mainnet")) != 2 {
		t.Fatalf("unauthorised POST reached the registry: admits %d, set %v", admits, f.uris("mainnet"))
	}
	code, _ = call(t, h, http.MethodPost, "/nodes", testToken, map[string]string{"uri": "http://10.9.9.9:8545"})
	if code != http.StatusOK {
		t.Fatalf("POST with token: %d", code)
	}
}

func TestAPIErrors(t *testing.T) {
	f := newFake("mainnet", "sepolia")
	f.setAdmit(func(n Node) error {
		if strings.Contains(n.URI, "wrongchain") {
			return errors.New("eth_chainId is 0xaa36a7, network mainnet is 0x1")
		}
		return nil
	})
	r := newTestRegistry(t, Config{}, f)
	h := r.Handler()
	mustCall(t, h, http.MethodPost, "/admin/networks/mainnet/nodes", map[string]string{"uri": "http://10.0.0.9:8545"}, http.StatusCreated)
	for _, tc := range []struct {
		name, method, path string
		body               any
		want               int
		msg                string
	}{
		{"unknown network", "POST", "/admin/networks/base/nodes", map[string]string{"uri": "http://x:1"}, 404, `unknown network "base" (known: mainnet, sepolia)`},
		{"unknown network list", "GET", "/admin/networks/base/nodes", nil, 404, "unknown network"},
		{"not JSON", "POST", "/nodes", "uri=http://x:1", 400, "request body must be a JSON object"},
		{"unknown field", "POST", "/nodes", `{"url":"http://x:1"}`, 400, `unknown field "url"`},
		{"two values", "POST", "/nodes", `{"uri":"http://x:1"}{}`, 400, "more than one JSON value"},
		{"no uri", "POST", "/nodes", `{}`, 400, "uri is required"},
		{"bad scheme", "POST", "/nodes", map[string]string{"uri": "ws://10.0.0.3:8546"}, 400, `uri's scheme is "ws": use http or https`},
		{"no scheme", "POST", "/nodes", map[string]string{"uri": "ftp//x"}, 400, "uri has no scheme: write it as http://host:port/path"},
		{"no host", "POST", "/nodes", map[string]string{"uri": "http:///path"}, 400, "has no host"},
		{"not a URL", "POST", "/nodes", map[string]string{"uri": "http://[::1"}, 400, "uri is not a URL"},
		{"bad tier", "POST", "/admin/networks/mainnet/nodes", map[string]string{"uri": "http://10.0.0.3:8545", "tier": "primary"}, 400, `tier "primary": must be local, monitoring or fallback`},
		{"long name", "POST", "/admin/networks/mainnet/nodes", map[string]string{"uri": "http://10.0.0.3:8545", "name": strings.Repeat("n", 65)}, 400, "name is longer than 64 bytes"},
		{"control in name", "POST", "/admin/networks/mainnet/nodes", map[string]string{"uri": "http://10.0.0.3:8545", "name": "a\nb"}, 400, "non-printable"},
		{"chain id mismatch", "POST", "/nodes", map[string]string{"uri": "http://wrongchain:8545"}, 422, "node rejected: eth_chainId is 0xaa36a7, network mainnet is 0x1"},
		{"duplicate configured", "POST", "/admin/networks/mainnet/nodes", map[string]string{"uri": "http://10.0.0.1:8545"}, 409, `node already present: network "mainnet" already has node http://10.0.0.1:8545`},
		{"duplicate on /nodes is 200, as prio-load-balancer", "POST", "/nodes", map[string]string{"uri": "http://10.0.0.9:8545"}, 200, ""},
		{"duplicate added", "POST", "/admin/networks/mainnet/nodes", map[string]string{"uri": "http://10.0.0.9:8545"}, 409, "already has node"},
		{"same uri other network", "POST", "/admin/networks/sepolia/nodes", map[string]string{"uri": "http://10.0.0.9:8545"}, 201, ""},
		{"remove not found", "DELETE", "/nodes", map[string]string{"uri": "http://10.0.0.7:8545"}, 404, `node not found: network "mainnet" has no node http://10.0.0.7:8545`},
		{"remove no uri", "DELETE", "/nodes", `{}`, 400, "uri is required"},
		{"remove with tier", "DELETE", "/nodes", map[string]string{"uri": "http://10.0.0.1:8545", "tier": "local"}, 400, "DELETE takes only uri"},
		{"wrong method", "PUT", "/nodes", nil, 405, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, out := call(t, h, tc.method, tc.path, "", tc.body)
			if code != tc.want {
				t.Fatalf("status %d, want %d: %s", code, tc.want, out)
			}
			if tc.msg != "" && !strings.Contains(errorOf(t, out), tc.msg) {
				t.Fatalf("error %q does not say %q", errorOf(t, out), tc.msg)
			}
		})
	}
	if got := f.uris("mainnet"); !slices.Equal(got, []string{"http://10.0.0.1:8545", "http://10.0.0.2:8545", "http://10.0.0.9:8545"}) {
		t.Fatalf("failed requests changed the set: %v", got)
	}
	for result, want := range map[string]float64{"ok": 2, "invalid": 8, "unknown_network": 1, "rejected": 1, "duplicate": 3} {
		if got := testutil.ToFloat64(r.metrics.changes.WithLabelValues("add", result)); got != want {
			t.Errorf("changes_total{op=add,result=%s} = %v, want %v", result, got, want)
		}
	}
	if got := testutil.ToFloat64(r.metrics.changes.WithLabelValues("remove", "not_found")); got != 1 {
		t.Errorf("changes_total{op=remove,result=not_found} = %v", got)
	}
}

func TestAPIAddRemoveRoundTrip(t *testing.T) {
	f := newFake("mainnet", "sepolia")
	r := newTestRegistry(t, Config{}, f)
	h := r.Handler()
	const c1, c2 = "http://10.0.0.1:8545", "http://10.0.0.2:8545"
	f.waitSet(t, "mainnet", c1, c2)
	f.waitSet(t, "sepolia", "http://10.0.1.1:8545")

	out := mustCall(t, h, "POST", "/admin/networks/mainnet/nodes", map[string]string{"uri": "http://10.0.0.5:8545?_workers=4", "tier": "monitoring", "name": "five"}, 201)
	want := Node{Network: "mainnet", URI: "http://10.0.0.5:8545?_workers=4", Tier: TierMonitoring, Name: "five", Source: SourceAdmin}
	if got := decode[Node](t, out); got != want {
		t.Fatalf("POST answered %+v, want %+v", got, want)
	}
	mustCall(t, h, "POST", "/nodes", map[string]string{"uri": "http://10.0.0.6:8545"}, 200)
	f.waitSet(t, "mainnet", c1, c2, want.URI, "http://10.0.0.6:8545")
	if got := f.set("mainnet")[3]; got.Tier != TierLocal || got.Source != SourceAdmin {
		t.Fatalf("legacy POST node: %+v", got)
	}

	legacy := decode[[]string](t, mustCall(t, h, "GET", "/nodes", nil, 200))
	if !slices.Equal(legacy, f.uris("mainnet")) {
		t.Fatalf("GET /nodes %v, applied %v", legacy, f.uris("mainnet"))
	}
	listed := decode[[]Node](t, mustCall(t, h, "GET", "/admin/networks/mainnet/nodes", nil, 200))
	if !slices.Equal(listed, f.set("mainnet")) {
		t.Fatalf("GET per network %+v, applied %+v", listed, f.set("mainnet"))
	}

	// Removing a configured node, then adding it back, restores its
	// configured place, tier and name.
	mustCall(t, h, "DELETE", "/nodes", map[string]string{"uri": c1}, 200)
	mustCall(t, h, "DELETE", "/admin/networks/mainnet/nodes", map[string]string{"uri": want.URI}, 200)
	f.waitSet(t, "mainnet", c2, "http://10.0.0.6:8545")
	back := decode[Node](t, mustCall(t, h, "POST", "/nodes", map[string]string{"uri": c1, "tier": "fallback"}, 200))
	if back.Source != SourceConfig || back.Name != "a" || back.Tier != TierLocal {
		t.Fatalf("configured node came back as %+v", back)
	}
	f.waitSet(t, "mainnet", c1, c2, "http://10.0.0.6:8545")
	if got := f.uris("sepolia"); !slices.Equal(got, []string{"http://10.0.1.1:8545"}) {
		t.Fatalf("sepolia changed: %v", got)
	}

	nets := decode[networksReply](t, mustCall(t, h, "GET", "/admin/networks", nil, 200))
	if nets.Store != "memory" || !nets.StoreUp || nets.DefaultNetwork != "mainnet" || len(nets.Networks["mainnet"]) != 3 {
		t.Fatalf("GET /admin/networks: %+v", nets)
	}

	// A URL written another way (a trailing slash, capitals, the default
	// port) is the same node: not added twice, and removed by it.
	mustCall(t, h, "POST", "/admin/networks/mainnet/nodes", map[string]string{"uri": c2 + "/"}, 409)
	mustCall(t, h, "POST", "/admin/networks/mainnet/nodes", map[string]string{"uri": "http://10.0.0.6:80/"}, 201)
	mustCall(t, h, "POST", "/admin/networks/mainnet/nodes", map[string]string{"uri": "http://10.0.0.6/"}, 409)
	mustCall(t, h, "DELETE", "/admin/networks/mainnet/nodes", map[string]string{"uri": "HTTP://10.0.0.2:8545/"}, 200)
	f.waitSet(t, "mainnet", c1, "http://10.0.0.6:8545", "http://10.0.0.6:80/")
}

func TestAPIApplyFailureIsReported(t *testing.T) {
	f := newFake("mainnet", "sepolia")
	r := newTestRegistry(t, Config{DefaultNetwork: "sepolia"}, f)
	f.mu.Lock()
	f.applyErr = errors.New("node http://10.0.1.9:8545: bad _workers")
	f.mu.Unlock()
	code, out := call(t, r.Handler(), "POST", "/nodes", "", map[string]string{"uri": "http://10.0.1.9:8545"})
	if code != http.StatusInternalServerError || !strings.Contains(errorOf(t, out), "change stored but not applied: node http://10.0.1.9:8545: bad _workers") {
		t.Fatalf("status %d: %s", code, out)
	}
	if nodes, _ := r.Nodes("sepolia"); len(nodes) != 2 {
		t.Fatalf("the change was not stored: %v", nodes)
	}
}

// A node added through the API may carry a rate_limit: it is kept with the
// node (and so reaches every replica), checked as the configuration's is,
// and refused with the key named when wrong; shared needs Redis.
func TestAPIRateLimit(t *testing.T) {
	f := newFake("mainnet", "sepolia")
	r := newTestRegistry(t, Config{}, f)
	h := r.Handler()
	out := mustCall(t, h, http.MethodPost, "/admin/networks/mainnet/nodes",
		`{"uri": "https://provider.example/v2/KEY", "tier": "fallback", "rate_limit": {"rate": 25, "burst": 50}}`, http.StatusCreated)
	n := decode[Node](t, out)
	if n.RateLimit.Rate != 25 || n.RateLimit.Burst != 50 || n.RateLimit.Shared {
		t.Fatalf("added node = %+v, want its rate_limit", n)
	}
	set := f.set("mainnet")
	if i := slices.IndexFunc(set, func(n Node) bool { return n.URI == "https://provider.example/v2/KEY" }); i < 0 || set[i].RateLimit.Rate != 25 {
		t.Fatalf("applied set %+v: the node's rate_limit did not reach it", set)
	}
	for _, tc := range []struct{ body, msg string }{
		{`{"uri": "http://10.0.0.8:8545", "rate_limit": {"rate": -1}}`, "rate_limit.rate -1 is not a rate"},
		{`{"uri": "http://10.0.0.8:8545", "rate_limit": {"burst": 5}}`, "rate_limit.burst is set without rate"},
		{`{"uri": "http://10.0.0.8:8545", "rate_limit": {"rate": 5, "shared": true}}`, "rate_limit.shared needs Redis"},
		{`{"uri": "http://10.0.0.8:8545", "rate_limit": {"rate": 5, "burts": 1}}`, "unknown field"},
	} {
		code, out := call(t, h, http.MethodPost, "/admin/networks/mainnet/nodes", "", tc.body)
		if code != http.StatusBadRequest || !strings.Contains(string(out), tc.msg) {
			t.Errorf("POST %s: %d %s, want 400 saying %q", tc.body, code, out, tc.msg)
		}
	}
	if code, out := call(t, h, http.MethodDelete, "/admin/networks/mainnet/nodes", "",
		`{"uri": "https://provider.example/v2/KEY", "rate_limit": {"rate": 1}}`); code != http.StatusBadRequest {
		t.Errorf("DELETE with a rate_limit: %d %s, want 400 (DELETE takes only uri)", code, out)
	}
}

// A URI that cannot be used is refused without echoing any of it: it may
// carry an API key.
func TestBadURIErrorsEchoNothing(t *testing.T) {
	for _, uri := range []string{"http://host:my-secret-key/x", "http://host/%zzsecret", "ftp//secret", "ws://secret-host/x", "http:///secret"} {
		err := checkURI(uri)
		if err == nil || strings.Contains(err.Error(), "secret") {
			t.Errorf("checkURI(%q) = %v", uri, err)
		}
	}
}
