package ws_test

import (
	"context"
	"encoding/json"
	"fmt"
	"github.com/evmgate/evmgate/internal/metrics"
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/evmgate/evmgate/internal/config"
	"github.com/evmgate/evmgate/internal/devnet"
	"github.com/evmgate/evmgate/internal/gateway"
	"github.com/prometheus/client_golang/prometheus"
)

func testLog(t testing.TB) *slog.Logger {
	if testing.Verbose() {
		return slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelInfo}))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

// startNet runs a devnet producing a block every period.
func startNet(t testing.TB, nodes int, period time.Duration) *devnet.Net {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	n, err := devnet.Start(ctx, devnet.Config{Nodes: nodes, BlockPeriod: period, Logger: testLog(t)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { n.Close() })
	return n
}

// gatewayYAML configures network "dev" over the net's nodes; withWS gives
// node i a ws_endpoint when withWS(i).
func gatewayYAML(n *devnet.Net, withWS func(i int) bool, extra string) string {
	var b strings.Builder
	b.WriteString("log_level: WARN\nlog_requests: false\nnetworks:\n  - name: dev\n    chain_id: 1337\n")
	b.WriteString("    local_poll_interval: 100ms\n    rpc_timeout: 2s\n    down_after: 2\n    local_nodes:\n")
	for i, nd := range n.Nodes() {
		fmt.Fprintf(&b, "      - rpc_endpoint: %q\n        name: %s\n", nd.HTTPURL(), nd.Name())
		if withWS(i) {
			fmt.Fprintf(&b, "        ws_endpoint: %q\n", nd.WSURL())
		}
	}
	b.WriteString(extra)
	return b.String()
}

func allWS(int) bool { return true }

// startGateway runs a gateway from YAML text.
func startGateway(t testing.TB, yaml string) *gateway.Gateway {
	t.Helper()
	cfg, err := config.Parse([]byte(yaml), func(string) (string, bool) { return "", false })
	if err != nil {
		t.Fatalf("config: %v\n%s", err, yaml)
	}
	g, err := gateway.StartLocal(context.Background(), cfg, testLog(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		g.Close(ctx)
	})
	return g
}

func wsURL(g *gateway.Gateway) string {
	return strings.Replace(g.RPCURL(), "http://", "ws://", 1) + "/dev"
}

// rpcMsg is a JSON-RPC message as a test client sees it.
type rpcMsg struct {
	ID     json.RawMessage `json:"id"`
	Method string          `json:"method"`
	Result json.RawMessage `json:"result"`
	Error  *struct {
		Code    int    `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
	Params struct {
		Subscription string          `json:"subscription"`
		Result       json.RawMessage `json:"result"`
	} `json:"params"`
}

// wsClient is a test client: answers go to callers by id, notifications to
// the channel of their subscription.
type wsClient struct {
	t     testing.TB
	c     *websocket.Conn
	mu    sync.Mutex
	calls map[string]chan rpcMsg
	notes map[string]chan json.RawMessage
	early map[string][]json.RawMessage // notifications before the subscribe answer was handled
	// rawNext, when set, receives the next answer raw instead of its caller.
	rawNext chan json.RawMessage
	nextID  int
	done    chan struct{}
	err     error // why reading stopped; read after done
}

func dialWS(t testing.TB, url string) *wsClient {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, _, err := websocket.Dial(ctx, url, nil)
	if err != nil {
		t.Fatalf("dialing %s: %v", url, err)
	}
	c.SetReadLimit(64 << 20)
	w := &wsClient{t: t, c: c, calls: map[string]chan rpcMsg{}, notes: map[string]chan json.RawMessage{},
		early: map[string][]json.RawMessage{}, done: make(chan struct{})}
	go w.read()
	t.Cleanup(func() { c.CloseNow(); <-w.done })
	return w
}

func (w *wsClient) read() {
	defer close(w.done)
	for {
		_, b, err := w.c.Read(context.Background())
		if err != nil {
			w.err = err
			return
		}
		var m rpcMsg
		if len(b) == 0 || b[0] != '[' {
			if err := json.Unmarshal(b, &m); err != nil {
				w.err = fmt.Errorf("decoding %s: %w", b, err)
				return
			}
		}
		w.mu.Lock()
		if m.Method != "eth_subscription" && w.rawNext != nil {
			w.rawNext <- b
			w.rawNext = nil
		} else if m.Method == "eth_subscription" {
			if ch := w.notes[m.Params.Subscription]; ch != nil {
				ch <- m.Params.Result
			} else {
				w.early[m.Params.Subscription] = append(w.early[m.Params.Subscription], m.Params.Result)
			}
		} else if ch := w.calls[string(m.ID)]; ch != nil {
			ch <- m
		}
		w.mu.Unlock()
	}
}

// call sends a call and waits for its answer.
func (w *wsClient) call(method string, params ...any) rpcMsg {
	w.t.Helper()
	if params == nil {
		params = []any{}
	}
	w.mu.Lock()
	w.nextID++
	id := fmt.Sprint(w.nextID)
	ch := make(chan rpcMsg, 1)
	w.calls[id] = ch
	w.mu.Unlock()
	body, _ := json.Marshal(map[string]any{"jsonrpc": "2.0", "id": w.nextID, "method": method, "params": params})
	if err := w.c.Write(context.Background(), websocket.MessageText, body); err != nil {
		w.t.Fatalf("writing %s: %v", method, err)
	}
	select {
	case m := <-ch:
		return m
	case <-w.done:
		w.t.Fatalf("connection closed waiting for %s: %v", method, w.err)
	case <-time.After(20 * time.Second):
		w.t.Fatalf("no answer to %s", method)
	}
	return rpcMsg{}
}

// subscribe opens a subscription and returns its notifications.
func (w *wsClient) subscribe(params ...any) (string, chan json.RawMessage) {
	w.t.Helper()
	m := w.call("eth_subscribe", params...)
	if m.Error != nil {
		w.t.Fatalf("eth_subscribe %v: %s (%d)", params, m.Error.Message, m.Error.Code)
	}
	var id string
	if err := json.Unmarshal(m.Result, &id); err != nil {
		w.t.Fatalf("subscription id %s: %v", m.Result, err)
	}
	ch := make(chan json.RawMessage, 100000)
	w.mu.Lock()
	if len(w.early[id]) > 0 {
		w.t.Errorf("subscription %s got %d notifications before its id was answered", id, len(w.early[id]))
	}
	w.notes[id] = ch
	w.mu.Unlock()
	return id, ch
}

// header is what tests read from a newHeads notification.
type header struct {
	Number     string `json:"number"`
	Hash       string `json:"hash"`
	ParentHash string `json:"parentHash"`
}

func (h header) num(t testing.TB) uint64 {
	var n uint64
	if _, err := fmt.Sscanf(h.Number, "0x%x", &n); err != nil {
		t.Fatalf("header number %q: %v", h.Number, err)
	}
	return n
}

func decodeHeader(t testing.TB, raw json.RawMessage) header {
	var h header
	if err := json.Unmarshal(raw, &h); err != nil {
		t.Fatalf("decoding header %s: %v", raw, err)
	}
	return h
}

// receive reads from ch until stop returns true or the deadline passes.
func receive(t testing.TB, ch chan json.RawMessage, what string, timeout time.Duration, stop func(json.RawMessage) bool) {
	t.Helper()
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		select {
		case raw := <-ch:
			if stop(raw) {
				return
			}
		case <-deadline.C:
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

// metric returns the sum of a metric's series whose labels include match.
func metric(t testing.TB, reg prometheus.Gatherer, name string, match map[string]string) float64 {
	t.Helper()
	sum, err := metrics.Sum(reg, name, match)
	if err != nil {
		t.Fatal(err)
	}
	return sum
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t testing.TB, what string, timeout time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
