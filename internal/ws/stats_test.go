package ws_test

import (
	"testing"
	"time"

	"github.com/evmgate/evmgate/internal/ws"
)

// GET /status counts the WebSocket clients, their subscriptions and the
// shared upstream subscriptions and node connections behind them.
func TestStatusCountsWebSocketTraffic(t *testing.T) {
	n := startNet(t, 2, 300*time.Millisecond)
	g := startGateway(t, gatewayYAML(n, allWS, ""))
	stats := func() ws.NetworkStats {
		nets := g.Status().Networks
		if len(nets) != 1 || nets[0].WebSocket == nil {
			t.Fatalf("status without websocket: %+v", nets)
		}
		return *nets[0].WebSocket
	}
	if got := stats(); got != (ws.NetworkStats{Network: "dev"}) {
		t.Fatalf("before any client: %+v", got)
	}
	a, b := dialWS(t, wsURL(g)), dialWS(t, wsURL(g))
	a.subscribe("newHeads")
	b.subscribe("newHeads") // shares a's upstream subscription
	b.subscribe("newPendingTransactions")
	got := stats()
	if got.Connections != 2 || got.Subscriptions != 3 || got.UpstreamSubscriptions != 2 || got.UpstreamConnections < 1 {
		t.Fatalf("two clients, three subscriptions of two kinds: %+v", got)
	}
	a.c.CloseNow()
	waitFor(t, "the closed connection and its subscription to leave", 20*time.Second, func() bool {
		s := stats()
		return s.Connections == 1 && s.Subscriptions == 2
	})
}
