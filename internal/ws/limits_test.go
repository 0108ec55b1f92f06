package ws_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
)

// TestStalledReaderIsCutOff: a client that stops reading is disconnected
// once its queue overflows, while the clients that read get every log.
func TestStalledReaderIsCutOff(t *testing.T) {
	// Each log notification is about 33 KB; a block holds about 40. The
	// stalled client can hold several MB in socket buffers before its
	// queue fills, so the logs add up to well over that.
	const logs, size = 300, 16 << 10
	n := startNet(t, 2, 300*time.Millisecond)
	emitter := deployEmitter(t, n)
	g := startGateway(t, gatewayYAML(n, allWS, "websocket:\n  subscriber_buffer: 100\n  write_timeout: 2s\n"))
	url := wsURL(g)
	filter := map[string]any{"address": emitter}

	stalled := dialRaw(t, url, 4096)
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
		_, ch := c.subscribe("logs", filter)
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
	waitFor(t, "the stalled client to be cut off", 30*time.Second, func() bool {
		return metric(t, g.Registry(), "evmgate_ws_disconnects_total", map[string]string{"reason": "slow_consumer"})+
			metric(t, g.Registry(), "evmgate_ws_disconnects_total", map[string]string{"reason": "write_failed"}) == 1
	})
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
