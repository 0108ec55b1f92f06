package main

import (
	"context"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
)

// startWSGateway runs evmgate on one fake node with the websocket: section
// ws and returns the WebSocket URL of its network.
func startWSGateway(t *testing.T, ws string) string {
	t.Helper()
	f := fakeNodes(t, 1, 1)
	// A full header at the head, so polling can feed newHeads.
	f[0].SetResult("eth_getBlockByNumber", `{"number":"0x64","hash":"0x`+strings.Repeat("ef", 32)+
		`","parentHash":"0x`+strings.Repeat("01", 32)+`","timestamp":"0x6553f100","transactions":[]}`)
	rpcPort, metricsPort := freePort(t), freePort(t)
	path := filepath.Join(t.TempDir(), "evmgate.yaml")
	writeFile(t, path, listeners(rpcPort, metricsPort)+"websocket:\n"+ws+
		"networks:\n  - name: mainnet\n    local_poll_interval: 100ms\n"+fakeNodesYAML("local_nodes", "", f[0]))
	p := startProc(t, nil, "-config", path)
	p.waitOutput(p.stderr, "gateway started", 2*time.Minute)
	return "ws://" + addr(rpcPort) + "/mainnet"
}

// wsDial opens a WebSocket to url, sending origin as the Origin header
// unless it is empty (a client that is not a browser). On a refused
// upgrade it returns the status and the body of the answer.
func wsDial(ctx context.Context, url, origin string) (c *websocket.Conn, status int, body string, err error) {
	var opts websocket.DialOptions
	if origin != "" {
		opts.HTTPHeader = http.Header{"Origin": {origin}}
	}
	c, resp, err := websocket.Dial(ctx, url, &opts)
	if resp != nil {
		status = resp.StatusCode
		if err != nil && resp.Body != nil {
			b, _ := io.ReadAll(resp.Body)
			body = string(b)
		}
	}
	if err == nil {
		c.SetReadLimit(1 << 20)
	}
	return c, status, body, err
}

// wsCall sends body and returns the next message that is not a
// subscription notification.
func wsCall(ctx context.Context, t *testing.T, c *websocket.Conn, body string) string {
	t.Helper()
	if err := c.Write(ctx, websocket.MessageText, []byte(body)); err != nil {
		t.Fatalf("sending %s: %v", body, err)
	}
	for {
		_, msg, err := c.Read(ctx)
		if err != nil {
			t.Fatalf("waiting for the answer to %s: %v", body, err)
		}
		if !strings.Contains(string(msg), `"method":"eth_subscription"`) {
			return string(msg)
		}
	}
}

// websocket.allowed_origins: a browser origin not listed is refused with
// 403 before any call, a listed origin and one matching a wildcard host
// pattern connect and call, and a client without an Origin header (not a
// browser) is not affected.
func TestWebSocketAllowedOriginsAsProcess(t *testing.T) {
	url := startWSGateway(t, "  allowed_origins: [\"app.example\", \"*.partner.example\"]\n")
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()

	for _, origin := range []string{"https://evil.example", "https://partner.example", "https://app.example.evil.example"} {
		t.Run("refused "+origin, func(t *testing.T) {
			c, status, body, err := wsDial(ctx, url, origin)
			if err == nil {
				c.CloseNow()
				t.Fatalf("Origin %s was accepted", origin)
			}
			if status != http.StatusForbidden {
				t.Fatalf("Origin %s: status %d (%v) %s, want 403", origin, status, err, body)
			}
		})
	}
	for _, origin := range []string{"https://app.example", "https://dapp.partner.example", ""} {
		name := "accepted " + origin
		if origin == "" {
			name = "accepted without Origin"
		}
		t.Run(name, func(t *testing.T) {
			c, status, body, err := wsDial(ctx, url, origin)
			if err != nil {
				t.Fatalf("Origin %q refused: %d %v %s", origin, status, err, body)
			}
			defer c.CloseNow()
			if got := wsCall(ctx, t, c, chainIDCall); !strings.Contains(got, `"result":"0x1"`) {
				t.Fatalf("eth_chainId over a connection from %q: %s", origin, got)
			}
		})
	}
}

// The websocket: limits, as a client meets them: an upgrade over
// max_connections is answered 503 naming the key, and a slot is free again
// once a connection closes; a subscription over
// max_subscriptions_per_connection is answered -32005 and the connection
// goes on serving; a message over max_message_bytes is answered -32054 and
// the connection is closed with 1009. Without allowed_origins, a browser
// origin connects when CORS allows it (access.cors_origins) and is refused
// with 403 otherwise.
func TestWebSocketLimitsAsProcess(t *testing.T) {
	url := startWSGateway(t, "  max_connections: 2\n  max_subscriptions_per_connection: 2\n  max_message_bytes: 2048\n  poll_interval: 100ms\n"+
		"access:\n  cors_origins: [\"https://any.example\"]\n")
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()

	if c, status, body, err := wsDial(ctx, url, "https://other.example"); err == nil {
		c.CloseNow()
		t.Fatal("a page of a site CORS does not allow opened a WebSocket")
	} else if status != http.StatusForbidden || !strings.Contains(body, "websocket.allowed_origins") || !strings.Contains(body, "cors_origins") {
		t.Fatalf("a page of a site CORS does not allow: %d %s, want 403 naming the keys", status, body)
	}
	first, status, body, err := wsDial(ctx, url, "https://any.example")
	if err != nil {
		t.Fatalf("the first connection, from a browser origin CORS allows, without allowed_origins: %d %v %s", status, err, body)
	}
	defer first.CloseNow()
	if got := wsCall(ctx, t, first, chainIDCall); !strings.Contains(got, `"result":"0x1"`) {
		t.Fatalf("eth_chainId: %s", got)
	}

	t.Run("max_subscriptions_per_connection", func(t *testing.T) {
		const subscribe = `{"jsonrpc":"2.0","id":7,"method":"eth_subscribe","params":["newHeads"]}`
		for i := range 2 {
			if got := wsCall(ctx, t, first, subscribe); !strings.Contains(got, `"result":"0x`) {
				t.Fatalf("subscription %d: %s", i+1, got)
			}
		}
		got := wsCall(ctx, t, first, subscribe)
		if !strings.Contains(got, `"code":-32005`) || !strings.Contains(got, "websocket.max_subscriptions_per_connection") {
			t.Fatalf("the third subscription was answered %s, want -32005 naming the key", got)
		}
		if got := wsCall(ctx, t, first, chainIDCall); !strings.Contains(got, `"result":"0x1"`) {
			t.Fatalf("a call after the refused subscription: %s", got)
		}
	})

	t.Run("max_connections", func(t *testing.T) {
		second, status, body, err := wsDial(ctx, url, "")
		if err != nil {
			t.Fatalf("the second connection: %d %v %s", status, err, body)
		}
		c, status, body, err := wsDial(ctx, url, "")
		if err == nil {
			c.CloseNow()
			t.Fatal("a third connection was accepted with max_connections: 2")
		}
		if status != http.StatusServiceUnavailable || !strings.Contains(body, "websocket.max_connections = 2") {
			t.Fatalf("the third connection: %d %s, want 503 naming the key", status, body)
		}
		second.Close(websocket.StatusNormalClosure, "")
		eventually(t, time.Minute, "a connection to be accepted once one closed", func() bool {
			c, _, _, err := wsDial(ctx, url, "")
			if err != nil {
				return false
			}
			c.Close(websocket.StatusNormalClosure, "")
			return true
		})
	})

	t.Run("max_message_bytes", func(t *testing.T) {
		// The server counts the connection the last subtest closed until
		// its side of the close is done: a dial may find the limit still
		// reached for a moment.
		var c *websocket.Conn
		eventually(t, time.Minute, "a connection under max_connections", func() bool {
			var status int
			var body string
			var err error
			c, status, body, err = wsDial(ctx, url, "")
			if err != nil && status != http.StatusServiceUnavailable {
				t.Fatalf("connecting: %d %v %s", status, err, body)
			}
			return err == nil
		})
		defer c.CloseNow()
		small := `{"jsonrpc":"2.0","id":1,"method":"eth_chainId","params":["` + strings.Repeat("x", 1900) + `"]}`
		if got := wsCall(ctx, t, c, small); !strings.Contains(got, `"result":"0x1"`) {
			t.Fatalf("a message under the limit: %s", got)
		}
		big := `{"jsonrpc":"2.0","id":1,"method":"eth_chainId","params":["` + strings.Repeat("x", 3000) + `"]}`
		if got := wsCall(ctx, t, c, big); !strings.Contains(got, "-32054") || !strings.Contains(got, "websocket.max_message_bytes") {
			t.Fatalf("a message over the limit was answered %s, want -32054 naming the key", got)
		}
		_, msg, err := c.Read(ctx)
		if websocket.CloseStatus(err) != websocket.StatusMessageTooBig {
			t.Fatalf("after the large message: %s %v, want close 1009", msg, err)
		}
	})
}

// Without allowed_origins or CORS settings, a page the gateway's own host
// serves connects, and a client without Origin (not a browser) too; a page
// of another site is refused.
func TestWebSocketOwnHostAsProcess(t *testing.T) {
	url := startWSGateway(t, "  poll_interval: 100ms\n")
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	own := "http://" + strings.TrimPrefix(strings.TrimSuffix(url, "/mainnet"), "ws://")
	for _, origin := range []string{own, ""} {
		c, status, body, err := wsDial(ctx, url, origin)
		if err != nil {
			t.Fatalf("Origin %q: %d %v %s", origin, status, err, body)
		}
		if got := wsCall(ctx, t, c, chainIDCall); !strings.Contains(got, `"result":"0x1"`) {
			t.Fatalf("eth_chainId from Origin %q: %s", origin, got)
		}
		c.CloseNow()
	}
	if c, status, _, err := wsDial(ctx, url, "https://elsewhere.example"); err == nil {
		c.CloseNow()
		t.Fatal("a page of another site connected")
	} else if status != http.StatusForbidden {
		t.Fatalf("a page of another site: %d %v, want 403", status, err)
	}
}
