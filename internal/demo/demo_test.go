package demo

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
)

// The demo serves real blocks through the gateway, and its lagging node is
// taken out of rotation while it lags and comes back after.
func TestDemoServesBlocksAndKeepsTheLaggingNodeOut(t *testing.T) {
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	d, err := Start(context.Background(), Options{LagEvery: 3 * time.Second}, log)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	var intro strings.Builder
	d.PrintIntro(&intro)
	if !strings.Contains(intro.String(), d.Gateway.RPCURL()+"/devnet") || !strings.Contains(intro.String(), "curl") {
		t.Fatalf("the intro lacks the URL or a curl example:\n%s", intro.String())
	}
	url := d.Gateway.RPCURL() + "/devnet"
	blockNumber := func() string {
		resp, err := http.Post(url, "application/json", strings.NewReader(`{"jsonrpc":"2.0","id":1,"method":"eth_blockNumber","params":[]}`))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return string(b)
	}
	first := blockNumber()
	eventually(t, "a new block through the gateway", func() bool { return blockNumber() != first })

	// A dapp page of another origin may call the demo, over HTTP (CORS)
	// and WebSocket.
	const page = "http://localhost:3000"
	req, _ := http.NewRequest(http.MethodPost, url, strings.NewReader(`{"jsonrpc":"2.0","id":1,"method":"eth_chainId","params":[]}`))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Origin", page)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Access-Control-Allow-Origin") != page {
		t.Fatalf("a call from %s: %d, Access-Control-Allow-Origin %q", page, resp.StatusCode, resp.Header.Get("Access-Control-Allow-Origin"))
	}
	wsCtx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	ws, _, err := websocket.Dial(wsCtx, strings.Replace(url, "http://", "ws://", 1), &websocket.DialOptions{HTTPHeader: http.Header{"Origin": {page}}})
	if err != nil {
		t.Fatalf("a WebSocket from %s: %v", page, err)
	}
	ws.CloseNow()

	eligible := func(name string) (bool, bool) {
		for _, n := range d.Gateway.Status().Networks[0].Nodes {
			if n.Name == name {
				return n.Eligible, true
			}
		}
		return false, false
	}
	eventually(t, "node2 in rotation at first", func() bool { el, _ := eligible("node2"); return el })
	eventually(t, "node2 out of rotation while frozen", func() bool { el, ok := eligible("node2"); return ok && !el })
	eventually(t, "node2 back after catching up", func() bool { el, _ := eligible("node2"); return el })
}

func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
