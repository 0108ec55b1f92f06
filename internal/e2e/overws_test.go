package e2e

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/evmgate/evmgate/internal/config"
	"github.com/evmgate/evmgate/internal/devnet"
	"github.com/evmgate/evmgate/internal/gateway"
)

// A node with http_over_ws gets the gateway's HTTP clients' calls over one
// shared WebSocket connection: answers equal the node's own, and many
// concurrent callers see no error.
func TestHTTPClientsOverNodeWebSocket(t *testing.T) {
	net := startNet(t, devnet.Config{Nodes: 1})
	if _, err := net.Mine(context.Background()); err != nil {
		t.Fatal(err)
	}
	nd := net.Nodes()[0]
	yaml := fmt.Sprintf("log_requests: false\nnetworks:\n  - name: %s\n    chain_id: 1337\n    local_poll_interval: 100ms\n"+
		"    local_nodes:\n      - name: node0\n        rpc_endpoint: %q\n        ws_endpoint: %q\n        http_over_ws: true\n",
		networkName, nd.HTTPURL(), nd.WSURL())
	cfg, err := config.Parse([]byte(yaml), func(string) (string, bool) { return "", false })
	if err != nil {
		t.Fatal(err)
	}
	g, err := gateway.StartLocal(context.Background(), cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		g.Close(ctx)
	})
	post := func(url, body string) string {
		resp, err := http.Post(url, "application/json", strings.NewReader(body))
		if err != nil {
			t.Error(err)
			return ""
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return string(b)
	}
	call := `{"jsonrpc":"2.0","id":"x-1","method":"eth_getBlockByNumber","params":["0x1",true]}`
	if got, want := post(g.RPCURL()+"/"+networkName, call), post(nd.HTTPURL(), call); got != want {
		t.Fatalf("over the node's WebSocket:\n%s\ndirect:\n%s", got, want)
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	bad := 0
	for c := 0; c < 50; c++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 20; i++ {
				body := fmt.Sprintf(`{"jsonrpc":"2.0","id":%d,"method":"eth_chainId","params":[]}`, c*100+i)
				want := fmt.Sprintf(`{"jsonrpc":"2.0","id":%d,"result":"0x539"}`, c*100+i)
				if got := post(g.RPCURL()+"/"+networkName, body); strings.TrimSpace(got) != want {
					mu.Lock()
					bad++
					mu.Unlock()
				}
			}
		}()
	}
	wg.Wait()
	if bad != 0 {
		t.Fatalf("%d of 1000 calls over the node's WebSocket failed or got another's answer", bad)
	}
	var buf bytes.Buffer
	resp, err := http.Get(g.MetricsURL() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(&buf, resp.Body)
	resp.Body.Close()
	var dials string
	for _, l := range strings.Split(buf.String(), "\n") {
		if strings.HasPrefix(l, "evmgate_ws_upstream_dials_total{") {
			dials = l
		}
	}
	if dials == "" || strings.HasSuffix(dials, " 0") {
		t.Fatalf("the calls did not go over a node WebSocket: %q", dials)
	}
	t.Log(dials)
}
