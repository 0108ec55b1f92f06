//go:build !nodemo

package main

import (
	"context"
	"encoding/json"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
)

// `evmgate -config FILE` with rest_api on one network serves the REST
// routes in front of a real go-ethereum node: over HTTP, over the node's
// WebSocket (/ws/…) and as the WebSocket /socket2socket, with the answers
// the node gives and the web server's error body for bad input; a network
// without rest_api keeps its paths as they were.
func TestRESTAPIAsProcess(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
	defer cancel()
	nd := minedNode(ctx, t)
	port, metricsPort := freePort(t), freePort(t)
	node := "    local_nodes:\n      - name: node0\n        rpc_endpoint: " + nd.HTTPURL() + "\n        ws_endpoint: " + nd.WSURL() + "\n"
	yaml := "listen_addr: 127.0.0.1\nport: " + itoa(port) + "\nmetrics_port: " + itoa(metricsPort) + "\nlog_requests: false\nnetworks:\n" +
		"  - name: devnet\n    rest_api: true\n" + node + "  - name: plain\n" + node
	cfg := filepath.Join(t.TempDir(), "evmgate.yaml")
	writeFile(t, cfg, yaml)
	p := startProc(t, nil, "-config", cfg)
	p.waitOutput(p.stderr, "gateway started", 2*time.Minute)
	base := "http://" + addr(port)

	if code, body := get(t, base+"/devnet/health"); code != 200 || !strings.Contains(body, `{"status":202,"message":"Healthcheck response","datetime":"`) {
		t.Fatalf("/devnet/health: %d %s", code, body)
	}
	_, direct := rpc(t, nd.HTTPURL(), `{"jsonrpc":"2.0","id":1,"method":"eth_blockNumber","params":[]}`)
	for _, path := range []string{"/devnet/blocknumber", "/devnet/ws/blocknumber"} {
		if code, body := get(t, base+path); code != 200 || strings.TrimSpace(body) != strings.TrimSpace(direct) {
			t.Fatalf("%s: %d %s, want %s", path, code, body, direct)
		}
	}
	_, block := rpc(t, nd.HTTPURL(), `{"jsonrpc":"2.0","id":1,"method":"eth_getBlockByNumber","params":["0x1",true]}`)
	if code, body := rpc(t, base+"/devnet/ws/blockbynumber", `{"block": "0x1", "txdetails": "true"}`); code != 200 || strings.TrimSpace(body) != strings.TrimSpace(block) {
		t.Fatalf("/devnet/ws/blockbynumber: %d %.200s", code, body)
	}
	code, body := rpc(t, base+"/devnet/txbyblockandindex", `{"block": "0x1", "index": -1}`)
	if code != 400 || !strings.HasPrefix(body, `{"statuscode":400,"message":"Malformed Request: \"index\" must not be negative`) {
		t.Fatalf("negative index: %d %s", code, body)
	}
	if code, body := get(t, base+"/plain/blocknumber"); code != 404 || !strings.Contains(body, "unknown network") {
		t.Fatalf("/plain/blocknumber without rest_api: %d %s", code, body)
	}

	c, _, err := websocket.Dial(ctx, "ws://"+addr(port)+"/devnet/socket2socket", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.CloseNow()
	if err := c.Write(ctx, websocket.MessageText, []byte(`{"jsonrpc":"2.0","method":"eth_blockNumber","params":[],"id":1}`)); err != nil {
		t.Fatal(err)
	}
	if _, msg, err := c.Read(ctx); err != nil || strings.TrimSpace(string(msg)) != strings.TrimSpace(direct) {
		t.Fatalf("socket2socket: %s %v, want %s", msg, err, direct)
	}
	c.Close(websocket.StatusNormalClosure, "")

	_, metrics := get(t, "http://"+addr(metricsPort)+"/metrics")
	for _, want := range []string{
		`evmgate_rest_requests_total{network="devnet",route="ws/blocknumber",status="200"} 1`,
		`evmgate_rest_requests_total{network="devnet",route="txbyblockandindex",status="400"} 1`,
		`evmgate_rest_requests_total{network="devnet",route="socket2socket",status="101"} 1`,
	} {
		if !strings.Contains(metrics, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	if dials := grepLines(metrics, "evmgate_ws_upstream_dials_total{"); !strings.Contains(dials, `outcome="ok"`) {
		t.Errorf("no node WebSocket was dialed: %q", dials)
	}
	var st struct {
		Networks []json.RawMessage `json:"networks"`
	}
	if code, body := get(t, "http://"+addr(metricsPort)+"/status"); code != http.StatusOK || json.Unmarshal([]byte(body), &st) != nil || len(st.Networks) != 2 {
		t.Errorf("/status: %d %.200s", code, body)
	}
	if code, took := p.terminate(30 * time.Second); code != 0 {
		t.Fatalf("exit code %d after SIGTERM (%v)", code, took)
	}
}
