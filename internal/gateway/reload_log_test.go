package gateway_test

import (
	"bytes"
	"fmt"
	"log/slog"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/evmgate/evmgate/internal/gateway"
)

// logLines is a log destination tests read while the gateway writes.
type logLines struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *logLines) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

// count is how many lines hold all of subs.
func (l *logLines) count(subs ...string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for line := range strings.SplitSeq(l.buf.String(), "\n") {
		all := true
		for _, s := range subs {
			all = all && strings.Contains(line, s)
		}
		if all && line != "" {
			n++
		}
	}
	return n
}

func (l *logLines) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

// startLoggedGateway starts a gateway whose log (INFO and above) the test
// reads.
func startLoggedGateway(t *testing.T, yaml string) (*gateway.Gateway, *logLines) {
	t.Helper()
	l := &logLines{}
	return startGatewayLog(t, yaml, slog.New(slog.NewTextHandler(l, nil))), l
}

func get(t *testing.T, url string) reply {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	return reply{status: resp.StatusCode, body: readAll(resp), header: resp.Header}
}

// TestReloadTurnsRESTAPIOnAndOff: rest_api follows the file on reload, for
// a network that stays and for one the reload adds; with it on, the
// network's nodes with a ws_endpoint can carry the /ws/ routes' calls.
func TestReloadTurnsRESTAPIOnAndOff(t *testing.T) {
	f := fakes(t, 2)
	// The node's WebSocket is never dialled here: only the /ws/ routes would.
	local := fmt.Sprintf("    local_nodes:\n      - rpc_endpoint: %q\n        ws_endpoint: ws://127.0.0.1:9\n        name: %s\n", f[0].URL(), f[0].Name)
	mainnet := func(rest string) string { return netYAML(rest, local) }
	sepolia := "  - name: sepolia\n    rest_api: true\n    local_poll_interval: 50ms\n" +
		strings.ReplaceAll(nodesYAML("local_nodes", f[1]), "\n    ", "\n    ")
	g := startGateway(t, mainnet(""))
	wsCarrier := func() bool { return g.Nodes("mainnet")[0].WSTransport != nil }
	health := func(network string) reply { return get(t, g.RPCURL()+"/"+network+"/health") }

	if r := health("mainnet"); r.status != 404 {
		t.Fatalf("/mainnet/health without rest_api: %d %s", r.status, r.body)
	}
	if wsCarrier() {
		t.Fatal("without rest_api the node has a WebSocket carrier")
	}
	reloadTo(t, g, mainnet("    rest_api: true\n"))
	if r := health("mainnet"); r.status != 200 || !strings.Contains(r.body, "Healthcheck response") {
		t.Fatalf("/mainnet/health after rest_api turned on: %d %s", r.status, r.body)
	}
	if r := get(t, g.RPCURL()+"/mainnet/blocknumber"); r.status != 200 || !strings.Contains(r.body, `"result":"0x64"`) {
		t.Fatalf("/mainnet/blocknumber after rest_api turned on: %d %s", r.status, r.body)
	}
	if !wsCarrier() {
		t.Fatal("after rest_api turned on, the node has no WebSocket carrier: /mainnet/ws/ calls would go over HTTP")
	}

	reloadTo(t, g, mainnet("")+sepolia)
	if r := health("mainnet"); r.status != 404 {
		t.Fatalf("/mainnet/health after rest_api turned off: %d %s", r.status, r.body)
	}
	if wsCarrier() {
		t.Fatal("after rest_api turned off the node keeps its WebSocket carrier")
	}
	if r := health("sepolia"); r.status != 200 {
		t.Fatalf("/sepolia/health of a network added with rest_api: %d %s", r.status, r.body)
	}
	if r := post(t, g.RPCURL()+"/mainnet", blockNumber); r.status != 200 || !strings.Contains(r.body, `"result":"0x64"`) {
		t.Fatalf("JSON-RPC after the reloads: %d %s", r.status, r.body)
	}
}

// TestReloadLogsAccessOpening: a reload that makes client access keyed, or
// open again, says so once at WARN, with the reason; a reload that leaves
// it as it was says nothing about it.
func TestReloadLogsAccessOpening(t *testing.T) {
	f := fakes(t, 1)[0]
	state := filepath.Join(t.TempDir(), "state.json")
	open := accessYAML(f, state, "  methods: {deny: [eth_chainId]}\n")
	keyed := accessYAML(f, state, keysAccess)
	g, logs := startLoggedGateway(t, open)
	const nowKeyed, nowOpen = "client access now requires an API key or a token", "client access is now open"

	reloadTo(t, g, keyed)
	wantRefusal(t, "no key after the reload", post(t, g.RPCURL()+"/mainnet", blockNumber), 401, -32070, "an API key is required")
	if n := logs.count("level=WARN", nowKeyed, "access.keys"); n != 1 {
		t.Fatalf("WARN lines saying access is now keyed, naming access.keys: %d, want 1\n%s", n, logs)
	}
	reloadTo(t, g, keyed)
	if n := logs.count(nowKeyed); n != 1 {
		t.Fatalf("after a reload that changed nothing, %d lines say access is now keyed, want 1\n%s", n, logs)
	}

	reloadTo(t, g, strings.TrimSuffix(open, "access:\n  methods: {deny: [eth_chainId]}\n"))
	if r := post(t, g.RPCURL()+"/mainnet", blockNumber); r.status != 200 {
		t.Fatalf("no key after the access section was removed: %d %s", r.status, r.body)
	}
	if n := logs.count("level=WARN", nowOpen); n != 1 {
		t.Fatalf("WARN lines saying access is now open: %d, want 1\n%s", n, logs)
	}
	if n := logs.count(nowKeyed); n != 1 {
		t.Fatalf("lines saying access is now keyed: %d, want still 1\n%s", n, logs)
	}
}

// TestReloadLogsNetworkChanges: a reload logs a network it adds, and a
// node set only when it changed.
func TestReloadLogsNetworkChanges(t *testing.T) {
	f := fakes(t, 3)
	text := netYAML("", nodesYAML("local_nodes", f[0]))
	g, logs := startLoggedGateway(t, text)
	const applied = "node set applied"
	if n := logs.count(applied, "network=mainnet"); n != 1 {
		t.Fatalf("%q lines for mainnet at start: %d, want 1\n%s", applied, n, logs)
	}

	reloadTo(t, g, strings.Replace(text, "rpc_timeout: 500ms", "rpc_timeout: 600ms", 1))
	if n := logs.count(applied); n != 1 {
		t.Fatalf("%q lines after a reload that kept the node set: %d, want still 1\n%s", applied, n, logs)
	}

	sepolia := "  - name: sepolia\n    local_poll_interval: 50ms\n" + nodesYAML("local_nodes", f[2])
	reloadTo(t, g, netYAML("", nodesYAML("local_nodes", f[0], f[1]))+sepolia)
	if n := logs.count(applied, "network=mainnet"); n != 2 {
		t.Fatalf("%q lines for mainnet after a node was added: %d, want 2\n%s", applied, n, logs)
	}
	if n := logs.count("network added", "network=sepolia"); n != 1 {
		t.Fatalf("\"network added\" lines for sepolia: %d, want 1\n%s", n, logs)
	}
	if n := logs.count("network added"); n != 1 {
		t.Fatalf("\"network added\" lines: %d, want 1 (mainnet stayed)\n%s", n, logs)
	}
}

// TestRESTPostRoutesWithKeys: with API keys configured, a REST POST route
// is still the REST route, not the network with its name read as a path
// key: the call is answered with a key in a header and refused without.
func TestRESTPostRoutesWithKeys(t *testing.T) {
	f := fakes(t, 1)
	g := startGateway(t, "access:\n  keys:\n    - name: a\n      key: rest-route-test-key-0001\n"+netYAML("    rest_api: true\n", nodesYAML("local_nodes", f...)))
	body := `{"block": "0x1", "txdetails": "false"}`
	if r := post(t, g.RPCURL()+"/mainnet/blockbynumber", body, "X-API-Key", "rest-route-test-key-0001"); r.status != 200 || !strings.Contains(r.body, `"result"`) {
		t.Fatalf("POST /mainnet/blockbynumber with a key: %d %s", r.status, r.body)
	}
	if r := post(t, g.RPCURL()+"/mainnet/blockbynumber", body); r.status != 401 {
		t.Fatalf("POST /mainnet/blockbynumber without a key: %d %s", r.status, r.body)
	}
	// A path key still works for JSON-RPC.
	if r := post(t, g.RPCURL()+"/mainnet/rest-route-test-key-0001", `{"jsonrpc":"2.0","id":1,"method":"eth_chainId","params":[]}`); r.status != 200 || !strings.Contains(r.body, `"result":"0x1"`) {
		t.Fatalf("JSON-RPC with a path key: %d %s", r.status, r.body)
	}
}

// TestReloadLogsAccessKeyedByRuntimeKeys: a reload that drops
// require_key: false while keys made through the admin API exist makes the
// gateway keyed, and the WARN names those keys as the reason.
func TestReloadLogsAccessKeyedByRuntimeKeys(t *testing.T) {
	f := fakes(t, 1)[0]
	state := filepath.Join(t.TempDir(), "state.json")
	g, logs := startLoggedGateway(t, accessYAML(f, state, "  require_key: false\n"))
	req, _ := http.NewRequest(http.MethodPost, g.RPCURL()+"/admin/keys", strings.NewReader(`{"name":"carol"}`))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("creating a runtime key: %d", resp.StatusCode)
	}
	reloadTo(t, g, accessYAML(f, state, "  methods: {deny: [eth_chainId]}\n"))
	if n := logs.count("level=WARN", "client access now requires an API key or a token", "keys made through the admin API"); n != 1 {
		t.Fatalf("WARN lines naming the admin API's keys: %d, want 1\n%s", n, logs)
	}
}
