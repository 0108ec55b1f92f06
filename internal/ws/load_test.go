package ws_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/coder/websocket"
)

// TestPollingFeedsNodesWithoutWebSocket: with no ws_endpoint anywhere,
// newHeads and logs are fed by polling, every height once and every log once.
func TestPollingFeedsNodesWithoutWebSocket(t *testing.T) {
	n := startNet(t, 2, 250*time.Millisecond)
	emitter := deployEmitter(t, n)
	g := startGateway(t, gatewayYAML(n, func(int) bool { return false }, "websocket:\n  poll_interval: 50ms\n"))
	c := dialWS(t, wsURL(g))
	_, headsCh := c.subscribe("newHeads")
	_, logsCh := c.subscribe("logs", map[string]any{"address": emitter})
	if m := c.call("eth_subscribe", "newPendingTransactions"); m.Error == nil || !strings.Contains(m.Error.Message, "ws_endpoint") {
		t.Fatalf("newPendingTransactions without any ws_endpoint: got %+v", m)
	}
	sender := newLogSender(t, n, n.Nodes()[0], 1, emitter)
	for i := range 6 {
		sender.send([]byte(fmt.Sprintf("polled %d", i)))
		if i%2 == 1 {
			waitBlocks(t, n, 1)
		}
	}
	sender.waitMined(20 * time.Second)
	target := n.Head() + 1
	got := collectHeads(t, headsCh, target)
	checkConsecutive(t, got.order, target)
	seen := map[string]bool{}
	receive(t, logsCh, "6 logs", 20*time.Second, func(raw json.RawMessage) bool {
		l := decodeLog(t, raw)
		if seen[l.TxHash.Hex()] {
			t.Fatalf("log repeated: %s", raw)
		}
		seen[l.TxHash.Hex()] = true
		return len(seen) == 6
	})
}

// TestThousandClientsReceiveEveryBlock: 1,000 WebSocket clients subscribed
// to newHeads all receive every block, in order, over one upstream
// subscription (200 clients under the race detector, which is ten times
// slower).
func TestThousandClientsReceiveEveryBlock(t *testing.T) {
	const blocks = 3
	clients := 1000
	if raceEnabled {
		clients = 200
	}
	n := startNet(t, 2, 400*time.Millisecond)
	g := startGateway(t, gatewayYAML(n, allWS, "websocket:\n  subscriber_buffer: 64\n"))
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	followers := make([]*follower, clients)
	var ready, done sync.WaitGroup
	var stopAt atomic.Uint64
	for i := range followers {
		f := &follower{c: dialRaw(t, wsURL(g), 0)}
		followers[i] = f
		ready.Add(1)
		done.Add(1)
		go func() {
			defer done.Done()
			f.follow(ctx, ready.Done, &stopAt)
		}()
	}
	ready.Wait()
	// The block after the Net's head may already be on its way; the one
	// after it is built only once every client is subscribed.
	start := n.Head() + 2
	stopAt.Store(start + blocks)
	done.Wait()
	for i, f := range followers {
		if f.err != nil {
			t.Fatalf("client %d: %v", i, f.err)
		}
		if len(f.heights) == 0 || f.heights[0] > start {
			t.Fatalf("client %d got heights %v, want from %d", i, f.heights, start)
		}
		checkConsecutive(t, f.heights, start+blocks)
	}
	if feeds := metric(t, g.Registry(), "evmgate_ws_upstream_subscriptions", nil); feeds != 1 {
		t.Fatalf("%v upstream subscriptions for %d identical ones, want 1", feeds, clients)
	}
}

// follower is a lightweight newHeads client recording the heights it gets.
type follower struct {
	c       *websocket.Conn
	heights []uint64
	err     error
}

// follow subscribes, calls subscribed, then records heights until one
// reaches stopAt (once it is set) or ctx ends.
func (f *follower) follow(ctx context.Context, subscribed func(), stopAt *atomic.Uint64) {
	body := []byte(`{"jsonrpc":"2.0","id":1,"method":"eth_subscribe","params":["newHeads"]}`)
	if f.err = f.c.Write(ctx, websocket.MessageText, body); f.err == nil {
		_, _, f.err = f.c.Read(ctx) // the subscription id
	}
	subscribed()
	for f.err == nil {
		var b []byte
		if _, b, f.err = f.c.Read(ctx); f.err != nil {
			return
		}
		var m struct {
			Params struct{ Result header } `json:"params"`
		}
		if f.err = json.Unmarshal(b, &m); f.err != nil {
			return
		}
		var h uint64
		if _, f.err = fmt.Sscanf(m.Params.Result.Number, "0x%x", &h); f.err != nil {
			return
		}
		f.heights = append(f.heights, h)
		if stop := stopAt.Load(); stop != 0 && h >= stop {
			return
		}
	}
}

// dialRaw opens a WebSocket; rcvbuf > 0 shrinks the socket's receive buffer.
func dialRaw(t testing.TB, url string, rcvbuf int) *websocket.Conn {
	t.Helper()
	opts := &websocket.DialOptions{}
	if rcvbuf > 0 {
		d := &net.Dialer{Control: func(_, _ string, rc syscall.RawConn) error {
			var serr error
			err := rc.Control(func(fd uintptr) {
				serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, rcvbuf)
			})
			if err != nil {
				return err
			}
			return serr
		}}
		opts.HTTPClient = &http.Client{Transport: &http.Transport{DialContext: d.DialContext}}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, _, err := websocket.Dial(ctx, url, opts)
	if err != nil {
		t.Fatalf("dialing %s: %v", url, err)
	}
	c.SetReadLimit(64 << 20)
	t.Cleanup(func() { c.CloseNow() })
	return c
}
