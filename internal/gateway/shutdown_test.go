package gateway_test

import (
	"context"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
)

// dialWS opens a WebSocket to the gateway's network path.
func dialWS(t *testing.T, ctx context.Context, rpcURL, network string) *websocket.Conn {
	t.Helper()
	c, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(rpcURL, "http")+"/"+network, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.CloseNow() })
	return c
}

// TestCloseDrainsWebSocketCalls: a shutdown answers the call a WebSocket
// client has in flight, then sends the client away (1001); /ready answers
// 503 from Drain on.
func TestCloseDrainsWebSocketCalls(t *testing.T) {
	f := fakes(t, 1)
	g := startGateway(t, netYAML("    rpc_timeout: 10s\n", nodesYAML("local_nodes", f...)))
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	c := dialWS(t, ctx, g.RPCURL(), "mainnet")
	f[0].Hold("web3_clientVersion")
	f[0].Record("web3_clientVersion")
	if err := c.Write(ctx, websocket.MessageText, []byte(clientVersion)); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the call to reach the node", func() bool { return len(f[0].Arrivals("web3_clientVersion")) > 0 })

	g.Drain()
	if code, body := getURL(t, g.MetricsURL()+"/ready"); code != 503 || !strings.Contains(body, "shutting down") {
		t.Fatalf("/ready while draining: %d %s", code, body)
	}
	closed := make(chan error, 1)
	go func() {
		cctx, ccancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer ccancel()
		closed <- g.Close(cctx)
	}()
	waitFor(t, "the listener to close", func() bool {
		conn, err := net.Dial("tcp", strings.TrimPrefix(g.RPCURL(), "http://"))
		if err == nil {
			conn.Close()
		}
		return err != nil
	})
	// The call is still held: the connection waits for its answer.
	f[0].Release("web3_clientVersion")
	_, msg, err := c.Read(ctx)
	if err != nil || !strings.Contains(string(msg), `"result":"fake0"`) {
		t.Fatalf("the call in flight at shutdown: %s, %v", msg, err)
	}
	if _, _, err := c.Read(ctx); websocket.CloseStatus(err) != websocket.StatusGoingAway {
		t.Fatalf("after the answer: %v, want close 1001 going away", err)
	}
	if err := <-closed; err != nil {
		t.Fatalf("Close: %v", err)
	}
}

// TestReloadSendsAwayRemovedNetworkClients: WebSocket clients of a network
// a reload removes get "going away" (1001); those of other networks stay.
func TestReloadSendsAwayRemovedNetworkClients(t *testing.T) {
	f := fakes(t, 2)
	main := netYAML("", nodesYAML("local_nodes", f[0]))
	g := startGateway(t, main+"  - name: base\n    local_poll_interval: 50ms\n"+nodesYAML("local_nodes", f[1]))
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	gone := dialWS(t, ctx, g.RPCURL(), "base")
	stays := dialWS(t, ctx, g.RPCURL(), "mainnet")
	reloadTo(t, g, main)
	if _, _, err := gone.Read(ctx); websocket.CloseStatus(err) != websocket.StatusGoingAway {
		t.Fatalf("a client of the removed network: %v, want close 1001 going away", err)
	}
	if err := stays.Write(ctx, websocket.MessageText, []byte(clientVersion)); err != nil {
		t.Fatal(err)
	}
	if _, msg, err := stays.Read(ctx); err != nil || !strings.Contains(string(msg), "fake0") {
		t.Fatalf("a client of the network that stays: %s, %v", msg, err)
	}
}
