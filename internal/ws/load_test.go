package ws_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync"
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
// subscription.
func TestThousandClientsReceiveEveryBlock(t *testing.T) {
	const clients, blocks = 1000, 3
	n := startNet(t, 2, 400*time.Millisecond)
	g := startGateway(t, gatewayYAML(n, allWS, "websocket:\n  subscriber_buffer: 64\n"))
	url := wsURL(g)

	type rec struct {
		heights []uint64
		err     error
	}
	recs := make([]rec, clients)
	conns := make([]*websocket.Conn, clients)
	var ready, done sync.WaitGroup
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var stopAt uint64
	var stopMu sync.Mutex
	for i := range clients {
		c := dialRaw(t, url, 0)
		conns[i] = c
		ready.Add(1)
		done.Add(1)
		go func() {
			defer done.Done()
			r := &recs[i]
			body := []byte(`{"jsonrpc":"2.0","id":1,"method":"eth_subscribe","params":["newHeads"]}`)
			if r.err = c.Write(ctx, websocket.MessageText, body); r.err != nil {
				ready.Done()
				return
			}
			_, _, r.err = c.Read(ctx) // the subscription id
			ready.Done()
			for r.err == nil {
				var b []byte
				if _, b, r.err = c.Read(ctx); r.err != nil {
					return
				}
				var m struct {
					Params struct{ Result header } `json:"params"`
				}
				if r.err = json.Unmarshal(b, &m); r.err != nil {
					return
				}
				var h uint64
				if _, r.err = fmt.Sscanf(m.Params.Result.Number, "0x%x", &h); r.err != nil {
					return
				}
				r.heights = append(r.heights, h)
				stopMu.Lock()
				stop := stopAt != 0 && h >= stopAt
				stopMu.Unlock()
				if stop {
					return
				}
			}
		}()
	}
	ready.Wait()
	start := n.Head() + 1
	stopMu.Lock()
	stopAt = start + blocks
	stopMu.Unlock()
	waitDone := make(chan struct{})
	go func() { done.Wait(); close(waitDone) }()
	select {
	case <-waitDone:
	case <-time.After(60 * time.Second):
		cancel()
		<-waitDone
	}
	for i, r := range recs {
		if r.err != nil {
			t.Fatalf("client %d: %v", i, r.err)
		}
		if len(r.heights) == 0 || r.heights[0] > start {
			t.Fatalf("client %d got heights %v, want from %d", i, r.heights, start)
		}
		checkConsecutive(t, r.heights, start+blocks)
	}
	if feeds := metric(t, g.Registry(), "evmgate_ws_upstream_subscriptions", nil); feeds != 1 {
		t.Fatalf("%v upstream subscriptions for 1000 identical ones, want 1", feeds)
	}
	for _, c := range conns {
		c.CloseNow()
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
