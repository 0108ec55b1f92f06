package gateway_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
)

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
