package main

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common/hexutil"
	gethrpc "github.com/ethereum/go-ethereum/rpc"
)

// limitedEth is what a node answers the gateway's probes and test_echo
// with, served by go-ethereum's RPC server.
type limitedEth struct{}

func (limitedEth) ChainId() hexutil.Uint64     { return 1 }
func (limitedEth) BlockNumber() hexutil.Uint64 { return 100 }
func (limitedEth) Syncing() bool               { return false }
func (limitedEth) GetBlockByNumber(string, bool) map[string]any {
	return map[string]any{"number": "0x64", "timestamp": hexutil.Uint64(time.Now().Unix())}
}

type echo struct{}

func (echo) Echo(v string) string { return v }

// startLimitedNode serves go-ethereum's RPC server on 127.0.0.1, over HTTP
// and over WebSocket with a read limit of limit bytes (geth's is 32 MiB),
// and returns its URL without the scheme.
func startLimitedNode(t *testing.T, limit int64) string {
	t.Helper()
	srv := gethrpc.NewServer()
	srv.SetWebsocketReadLimit(limit)
	if err := srv.RegisterName("eth", limitedEth{}); err != nil {
		t.Fatal(err)
	}
	if err := srv.RegisterName("test", echo{}); err != nil {
		t.Fatal(err)
	}
	ws := srv.WebsocketHandler([]string{"*"})
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Upgrade") != "" {
			ws.ServeHTTP(w, r)
			return
		}
		srv.ServeHTTP(w, r)
	}))
	t.Cleanup(func() {
		hs.Close()
		srv.Stop()
	})
	return hs.Listener.Addr().String()
}

// Nodes with http_over_ws that close their WebSocket with 1009 over a
// call above their read limit, as go-ethereum does: the call moves to a
// node whose limit takes it; when every node refuses it, an HTTP client
// gets 413 and a WebSocket client an answer with its id, both -32054
// naming the nodes. No node is blamed: both stay up and eligible, with
// one failure taking a blamed node out and opening its breaker.
func TestHTTPOverWSRefusedAsTooLargeAsProcess(t *testing.T) {
	small, large := startLimitedNode(t, 4<<10), startLimitedNode(t, 64<<10)
	rpcPort, metricsPort := freePort(t), freePort(t)
	node := func(name, at string) string {
		return "      - rpc_endpoint: http://" + at + "\n        ws_endpoint: ws://" + at + "\n        http_over_ws: true\n        name: " + name + "\n"
	}
	path := filepath.Join(t.TempDir(), "evmgate.yaml")
	writeFile(t, path, listeners(rpcPort, metricsPort)+"networks:\n  - name: mainnet\n    chain_id: 1\n    cache: false\n"+
		"    rpc_retries: 2\n    rpc_timeout: 10s\n    down_after: 1\n    circuit_breaker: {failures: 1, failure_ratio: 0.1, cooldown: 1h}\n"+
		"    strategy: round_robin\n    local_nodes:\n"+node("small", small)+node("large", large))
	p := startProc(t, nil, "-config", path)
	p.waitOutput(p.stderr, "gateway started", 2*time.Minute)
	url := "http://" + addr(rpcPort) + "/mainnet"
	up := func(name string) bool {
		st := nodeStatusOf(t, metricsPort, "mainnet", name)
		return st.State == "up" && st.Eligible
	}
	eventually(t, time.Minute, "both nodes up", func() bool { return up("small") && up("large") })

	// Over small's limit, under large's: several times, so that round-robin
	// starts on small at least once.
	for i := range 4 {
		v := strings.Repeat("m", 16<<10)
		code, body := rpc(t, url, `{"jsonrpc":"2.0","id":`+itoa(i)+`,"method":"test_echo","params":["`+v+`"]}`)
		if code != 200 || body != `{"jsonrpc":"2.0","id":`+itoa(i)+`,"result":"`+v+`"}` {
			t.Fatalf("a call over small's limit, under large's: %d %.300s", code, body)
		}
	}

	huge := `"params":["` + strings.Repeat("h", 128<<10) + `"]}`
	var answer struct {
		ID    json.RawMessage
		Error struct {
			Code    int
			Message string
		}
	}
	refusedByBoth := func(how, body string) {
		t.Helper()
		if err := json.Unmarshal([]byte(body), &answer); err != nil {
			t.Fatalf("%s: %.300s: %v", how, body, err)
		}
		if answer.Error.Code != -32054 || !strings.Contains(answer.Error.Message, "small (") ||
			!strings.Contains(answer.Error.Message, "large (") || !strings.Contains(answer.Error.Message, "smaller request") {
			t.Fatalf("%s: %.400s, want -32054 naming both nodes and saying to send less", how, body)
		}
	}
	code, body := rpc(t, url, `{"jsonrpc":"2.0","id":7,"method":"test_echo",`+huge)
	refusedByBoth("over HTTP", body)
	if code != 413 || string(answer.ID) != "7" {
		t.Fatalf("over HTTP: %d %.300s, want 413 with id 7", code, body)
	}

	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	c, status, wsBody, err := wsDial(ctx, "ws://"+addr(rpcPort)+"/mainnet", "")
	if err != nil {
		t.Fatalf("connecting: %d %v %s", status, err, wsBody)
	}
	defer c.CloseNow()
	refusedByBoth("over WebSocket", wsCall(ctx, t, c, `{"jsonrpc":"2.0","id":"w-8","method":"test_echo",`+huge))
	if string(answer.ID) != `"w-8"` {
		t.Fatalf("over WebSocket: id %s, want \"w-8\"", answer.ID)
	}
	if got := wsCall(ctx, t, c, chainIDCall); !strings.Contains(got, `"result":"0x1"`) {
		t.Fatalf("eth_chainId on the same client connection: %s", got)
	}

	for _, name := range []string{"small", "large"} {
		if !up(name) {
			t.Errorf("node %s after refusing calls for their size: %+v, want up and eligible", name, nodeStatusOf(t, metricsPort, "mainnet", name))
		}
	}
	if code, took := p.terminate(time.Minute); code != 0 {
		t.Fatalf("exit %d after SIGTERM (%v)", code, took)
	}
}
