package ws_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/evmgate/evmgate/internal/config"
	"github.com/evmgate/evmgate/internal/gateway"
	"io"
	"net"
	"net/http"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"
)

// TestStalledReaderIsCutOff: a client that stops reading is disconnected
// once its queue overflows, while the clients that read get every log.
// Socket buffers on both ends of the stalled connection are made small so
// the queue, not the kernel, holds what it does not read.
func TestStalledReaderIsCutOff(t *testing.T) {
	const logs, size = 250, 4 << 10 // about 8 KB per notification, 110 per block
	n := startNet(t, 2, 300*time.Millisecond)
	emitter := deployEmitter(t, n)
	g := startGatewayOn(t, gatewayYAML(n, allWS, "websocket:\n  subscriber_buffer: 200\n  write_timeout: 5s\n"),
		&firstSmallListener{})
	url := wsURL(g)

	stalled := dialRaw(t, url, 4096) // the first connection accepted
	sub := fmt.Appendf(nil, `{"jsonrpc":"2.0","id":1,"method":"eth_subscribe","params":["logs",{"address":"%s"}]}`, emitter)
	if err := stalled.Write(context.Background(), websocket.MessageText, sub); err != nil {
		t.Fatal(err)
	}
	if _, b, err := stalled.Read(context.Background()); err != nil || !strings.Contains(string(b), `"result"`) {
		t.Fatalf("subscribing: %s %v", b, err)
	}
	// From here on the stalled client never reads.
	var readers []chan json.RawMessage
	for range 3 {
		c := dialWS(t, url)
		_, ch := c.subscribe("logs", map[string]any{"address": emitter})
		readers = append(readers, ch)
	}
	sender := newLogSender(t, n, n.Nodes()[0], 1, emitter)
	data := make([]byte, size)
	for i := range data {
		data[i] = byte(1 + i%250)
	}
	for range logs {
		sender.send(data)
	}
	for i, ch := range readers {
		got := 0
		receive(t, ch, fmt.Sprintf("reader %d: %d logs", i, logs), 60*time.Second, func(json.RawMessage) bool {
			got++
			return got == logs
		})
	}
	// Cut off by its queue overflowing, or by a write blocked longer than
	// write_timeout, whichever comes first; no one else.
	reg := g.Registry()
	slow := metric(t, reg, "evmgate_ws_disconnects_total", map[string]string{"reason": "slow_consumer"})
	stuck := metric(t, reg, "evmgate_ws_disconnects_total", map[string]string{"reason": "write_failed"})
	if all := metric(t, reg, "evmgate_ws_disconnects_total", nil); slow+stuck != 1 || all != 1 {
		t.Fatalf("disconnects: %v slow, %v stuck writing, %v in all; want the stalled client only", slow, stuck, all)
	}
	// The stalled client finds its connection closed once it reads again.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for {
		if _, _, err := stalled.Read(ctx); err != nil {
			if ctx.Err() != nil {
				t.Fatal("the stalled client's connection is still open")
			}
			t.Logf("stalled client: %v", err)
			break
		}
	}
}

// firstSmallListener gives the first connection it accepts a small send buffer.
type firstSmallListener struct {
	net.Listener
	done atomic.Bool
}

func (l *firstSmallListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if tc, ok := c.(*net.TCPConn); ok && !l.done.Swap(true) {
		_ = tc.SetWriteBuffer(4096)
	}
	return c, err
}

// startGatewayOn runs a gateway whose JSON-RPC listener is ln wrapping a
// fresh 127.0.0.1 listener.
func startGatewayOn(t *testing.T, yaml string, ln *firstSmallListener) *gateway.Gateway {
	t.Helper()
	cfg, err := config.Parse([]byte(yaml), func(string) (string, bool) { return "", false })
	if err != nil {
		t.Fatal(err)
	}
	g, err := gateway.New(cfg, testLog(t))
	if err != nil {
		t.Fatal(err)
	}
	if ln.Listener, err = net.Listen("tcp", "127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	if err := g.Serve(context.Background(), ln, nil); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		g.Close(ctx)
	})
	return g
}

// TestLimitsAndCalls: calls and batches over a client WebSocket, and each
// limit answering with its own clear error.
func TestLimitsAndCalls(t *testing.T) {
	n := startNet(t, 1, 0)
	g := startGateway(t, gatewayYAML(n, allWS, `websocket:
  max_connections: 3
  max_subscriptions_per_connection: 2
  max_message_bytes: 2048
`))
	url := wsURL(g)
	c := dialWS(t, url)

	t.Run("calls and batches take the HTTP path", func(t *testing.T) {
		if m := c.call("eth_chainId"); string(m.Result) != `"0x539"` {
			t.Fatalf("eth_chainId: %+v", m)
		}
		raw := sendRaw(t, c, `[{"jsonrpc":"2.0","id":"a","method":"eth_chainId","params":[]},{"jsonrpc":"2.0","id":"b","method":"eth_blockNumber","params":[]}]`)
		var arr []rpcMsg
		if err := json.Unmarshal(raw, &arr); err != nil || len(arr) != 2 || string(arr[0].ID) != `"a"` || string(arr[1].ID) != `"b"` {
			t.Fatalf("batch answer %s", raw)
		}
		if raw := sendRaw(t, c, `{"jsonrpc":"2.0","id":9,"method":`); !strings.Contains(string(raw), "-32700") {
			t.Fatalf("invalid JSON answered %s", raw)
		}
		// An invalid call whose id can be read is answered with that id:
		// a client waits on it.
		for _, msg := range []string{
			`{"id":7,"method":"eth_chainId"}`,
			`{"jsonrpc":"2.0","id":7,"method":"eth_chainId","params":"0x0"}`,
			`{"jsonrpc":"2.0","id":7}`,
		} {
			if raw := sendRaw(t, c, msg); !strings.HasPrefix(string(raw), `{"jsonrpc":"2.0","id":7,"error":`) {
				t.Fatalf("%s answered %s", msg, raw)
			}
		}
	})
	t.Run("subscriptions per connection", func(t *testing.T) {
		id1, _ := c.subscribe("newHeads")
		c.subscribe("newHeads")
		m := c.call("eth_subscribe", "newHeads")
		if m.Error == nil || m.Error.Code != -32005 || !strings.Contains(m.Error.Message, "websocket.max_subscriptions_per_connection") {
			t.Fatalf("third subscription: %+v", m)
		}
		if m := c.call("eth_unsubscribe", id1); string(m.Result) != "true" {
			t.Fatalf("unsubscribe: %+v", m)
		}
		if m := c.call("eth_unsubscribe", id1); m.Error == nil || m.Error.Message != "subscription not found" {
			t.Fatalf("unsubscribe twice: %+v", m)
		}
		c.subscribe("newHeads") // room again
	})
	parent := t
	t.Run("batch with a subscription", func(t *testing.T) {
		other := dialWS(parent, url)
		raw := sendRaw(t, other, `[{"jsonrpc":"2.0","id":1,"method":"eth_subscribe","params":["newHeads"]},{"jsonrpc":"2.0","id":2,"method":"eth_chainId","params":[]}]`)
		var arr []rpcMsg
		if err := json.Unmarshal(raw, &arr); err != nil || len(arr) != 2 || !strings.HasPrefix(string(arr[0].Result), `"0x`) || string(arr[1].Result) != `"0x539"` {
			t.Fatalf("mixed batch answer %s", raw)
		}
	})
	t.Run("connections", func(t *testing.T) {
		dialWS(t, url) // the third
		_, resp, err := websocket.Dial(context.Background(), url, nil)
		if err == nil {
			t.Fatal("a fourth connection was accepted")
		}
		body, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusServiceUnavailable || !strings.Contains(string(body), "websocket.max_connections = 3") {
			t.Fatalf("fourth connection: %d %s", resp.StatusCode, body)
		}
	})
	t.Run("message size", func(t *testing.T) {
		big := `{"jsonrpc":"2.0","id":1,"method":"eth_chainId","params":["` + strings.Repeat("x", 3000) + `"]}`
		raw := sendRaw(t, c, big)
		if !strings.Contains(string(raw), "-32054") || !strings.Contains(string(raw), "websocket.max_message_bytes") {
			t.Fatalf("large message answered %s", raw)
		}
		<-c.done
		if websocket.CloseStatus(c.err) != websocket.StatusMessageTooBig {
			t.Fatalf("connection ended with %v, want close 1009", c.err)
		}
	})
}

// sendRaw writes a message and returns the next answer that is not a
// notification, raw (a batch answer is an array).
func sendRaw(t *testing.T, c *wsClient, msg string) json.RawMessage {
	t.Helper()
	ch := make(chan json.RawMessage, 1)
	c.mu.Lock()
	c.rawNext = ch
	c.mu.Unlock()
	if err := c.c.Write(context.Background(), websocket.MessageText, []byte(msg)); err != nil {
		t.Fatal(err)
	}
	select {
	case raw := <-ch:
		return raw
	case <-time.After(20 * time.Second):
		t.Fatal(errors.New("no answer"))
	}
	return nil
}

// TestPingsAndCleanup: a client that answers pings stays connected, one
// that does not is closed; a closed client's subscriptions are removed and
// the upstream subscription closes after the grace.
func TestPingsAndCleanup(t *testing.T) {
	n := startNet(t, 1, 200*time.Millisecond)
	g := startGateway(t, gatewayYAML(n, allWS, "websocket:\n  ping_interval: 300ms\n  unsubscribe_grace: 100ms\n"))
	reg := g.Registry()
	alive := dialWS(t, wsURL(g))
	alive.subscribe("newHeads")
	alive.subscribe("logs", map[string]any{})
	deaf := dialRaw(t, wsURL(g), 0) // never reads, so never answers a ping
	waitFor(t, "the deaf client to be closed", 10*time.Second, func() bool {
		return metric(t, reg, "evmgate_ws_disconnects_total", map[string]string{"reason": "ping_timeout"}) == 1
	})
	_ = deaf
	if m := alive.call("eth_chainId"); string(m.Result) != `"0x539"` {
		t.Fatalf("the client answering pings: %+v", m)
	}
	if got := metric(t, reg, "evmgate_ws_upstream_subscriptions", nil); got != 2 {
		t.Fatalf("%v upstream subscriptions, want 2", got)
	}
	alive.c.Close(websocket.StatusNormalClosure, "")
	waitFor(t, "subscriptions to be removed", 10*time.Second, func() bool {
		return metric(t, reg, "evmgate_ws_subscriptions", nil) == 0 &&
			metric(t, reg, "evmgate_ws_upstream_subscriptions", nil) == 0 &&
			metric(t, reg, "evmgate_ws_connections", nil) == 0
	})
}

// TestCloseLeavesNoGoroutine: closing the gateway with clients connected,
// subscribed and calling ends every goroutine of ws and subs.
func TestCloseLeavesNoGoroutine(t *testing.T) {
	n := startNet(t, 2, 200*time.Millisecond)
	cfg := gatewayYAML(n, func(i int) bool { return i == 0 }, "")
	g := startGateway(t, cfg)
	for range 5 {
		c := dialWS(t, wsURL(g))
		c.subscribe("newHeads")
		c.subscribe("logs", map[string]any{})
		c.call("eth_blockNumber")
	}
	deaf := dialRaw(t, wsURL(g), 0)
	_ = deaf
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := g.Close(ctx); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "ws and subs goroutines to end", 10*time.Second, func() bool {
		buf := make([]byte, 1<<20)
		stacks := string(buf[:runtime.Stack(buf, true)])
		return !strings.Contains(stacks, "evmgate/internal/ws.") && !strings.Contains(stacks, "evmgate/internal/subs.")
	})
}

// TestConnectionLimitHoldsForDialsAtOnce: connections whose handshakes
// run at the same time count against websocket.max_connections from the
// start, so a crowd of dials gets no more than the limit.
func TestConnectionLimitHoldsForDialsAtOnce(t *testing.T) {
	n := startNet(t, 1, 0)
	g := startGateway(t, gatewayYAML(n, allWS, "websocket:\n  max_connections: 2\n"))
	url := wsURL(g)
	const dials = 12
	conns := make(chan *websocket.Conn, dials)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for range dials {
		wg.Go(func() {
			<-start
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			if c, _, err := websocket.Dial(ctx, url, nil); err == nil {
				conns <- c
			}
		})
	}
	close(start)
	wg.Wait()
	close(conns)
	accepted := 0
	for c := range conns {
		accepted++
		defer c.CloseNow()
	}
	if accepted == 0 || accepted > 2 {
		t.Fatalf("%d of %d dials at once were accepted, want 1 or 2 (max_connections: 2)", accepted, dials)
	}
}
