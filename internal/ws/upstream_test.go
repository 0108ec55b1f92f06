package ws

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/evmgate/evmgate/internal/devnet"
	"github.com/evmgate/evmgate/internal/upstream"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/goleak"
)

func TestRewriteAndRestoreIDs(t *testing.T) {
	u := newUpstreamConn(upstream.Spec{Name: "n"}, time.Second, slog.New(slog.DiscardHandler), nil)
	tests := []struct {
		name, body, answer, want string
	}{
		{"number id", `{"jsonrpc":"2.0","id":7,"method":"eth_chainId"}`,
			`{"jsonrpc":"2.0","id":%d,"result":"0x1"}`, `{"jsonrpc":"2.0","id":7,"result":"0x1"}`},
		{"string id with spaces", `{ "id" : "a b", "jsonrpc":"2.0", "method":"x"}`,
			`{"result":{"id":5},"id":%d,"jsonrpc":"2.0"}`, `{"result":{"id":5},"id":"a b","jsonrpc":"2.0"}`},
		{"null id", `{"jsonrpc":"2.0","id":null,"method":"x"}`,
			`{"jsonrpc":"2.0","id":%d,"error":{"code":-1,"message":"m"}}`, `{"jsonrpc":"2.0","id":null,"error":{"code":-1,"message":"m"}}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, ids, cids, batch, err := u.rewrite([]byte(tt.body))
			if err != nil || len(ids) != 1 || !bytes.Contains(req, fmt.Appendf(nil, `%d`, ids[0])) {
				t.Fatalf("rewritten request %s, ids %v, %v", req, ids, err)
			}
			got := restore(fmt.Appendf(nil, tt.answer, ids[0]), ids, cids, batch)
			if string(got) != tt.want {
				t.Fatalf("got %s want %s", got, tt.want)
			}
		})
	}
	t.Run("batch with a notification, answered out of order", func(t *testing.T) {
		body := []byte(`[{"jsonrpc":"2.0","id":"x","method":"a"},{"jsonrpc":"2.0","method":"note"},{"jsonrpc":"2.0","id":1,"method":"b"}]`)
		req, ids, cids, batch, err := u.rewrite(body)
		if err != nil || !batch || len(ids) != 2 || !strings.Contains(string(req), `"method":"note"`) {
			t.Fatalf("rewritten %s ids %v %v", req, ids, err)
		}
		answer := fmt.Appendf(nil, `[{"jsonrpc":"2.0","id":%d,"result":2},{"jsonrpc":"2.0","id":%d,"result":1}]`, ids[1], ids[0])
		if got := string(restore(answer, ids, cids, batch)); got != `[{"jsonrpc":"2.0","id":1,"result":2},{"jsonrpc":"2.0","id":"x","result":1}]` {
			t.Fatalf("restored %s", got)
		}
	})
}

// TestHTTPOverNodeWebSocket200Callers: 200 concurrent HTTP callers share one
// upstream WebSocket to a real node (client HTTP → node WebSocket); every
// call gets its own answer with its own id, and there are no errors.
func TestHTTPOverNodeWebSocket200Callers(t *testing.T) {
	const callers, perCaller = 200, 15
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	n, err := devnet.Start(ctx, devnet.Config{Nodes: 1, BlockPeriod: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close()
	s, err := New(Config{}, nil, slog.New(slog.DiscardHandler), prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	nd := n.Nodes()[0]
	client := &http.Client{Transport: s.Transport(upstream.Spec{Name: "node0", Network: "dev", WSURL: nd.WSURL()})}

	var wg sync.WaitGroup
	errs := make(chan error, callers*perCaller)
	for c := range callers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range perCaller {
				errs <- checkedCall(client, nd.HTTPURL(), c, i)
			}
		}()
	}
	wg.Wait()
	close(errs)
	failed := 0
	for err := range errs {
		if err != nil {
			failed++
			if failed < 5 {
				t.Error(err)
			}
		}
	}
	if failed > 0 {
		t.Fatalf("%d of %d calls failed", failed, callers*perCaller)
	}
	if got := len(s.upstreams); got != 1 {
		t.Fatalf("%d upstream connections, want 1 shared", got)
	}
}

// checkedCall makes one call (or a batch) with ids unique to the caller and
// checks the answer carries them.
func checkedCall(client *http.Client, url string, c, i int) error {
	id := fmt.Sprintf(`"c%d-%d"`, c, i)
	var body string
	switch i % 3 {
	case 0:
		body = `{"jsonrpc":"2.0","id":` + id + `,"method":"eth_chainId","params":[]}`
	case 1:
		body = `{"jsonrpc":"2.0","id":` + id + `,"method":"eth_getBlockByNumber","params":["latest",false]}`
	default:
		body = `[{"jsonrpc":"2.0","id":` + id + `,"method":"eth_blockNumber","params":[]},{"jsonrpc":"2.0","id":` +
			fmt.Sprint(c*1000+i) + `,"method":"eth_chainId","params":[]}]`
	}
	resp, err := client.Post(url, "application/json", strings.NewReader(body))
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	type answer struct {
		ID     json.RawMessage `json:"id"`
		Result json.RawMessage `json:"result"`
	}
	var got []answer
	if i%3 == 2 {
		err = json.Unmarshal(b, &got)
	} else {
		var one answer
		err = json.Unmarshal(b, &one)
		got = []answer{one}
	}
	if err != nil || string(got[0].ID) != id || len(got[0].Result) == 0 {
		return fmt.Errorf("call %s answered %s (%v)", id, b, err)
	}
	if i%3 == 2 && (len(got) != 2 || string(got[1].ID) != fmt.Sprint(c*1000+i) || string(got[1].Result) != `"0x539"`) {
		return fmt.Errorf("batch %s answered %s", id, b)
	}
	return nil
}

// silentNode is a WebSocket node that accepts calls and never answers.
type silentNode struct {
	ln    net.Listener
	srv   *http.Server
	got   chan struct{}
	mu    sync.Mutex
	conns []*websocket.Conn
}

func startSilentNode(t *testing.T, addr string) *silentNode {
	t.Helper()
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	sn := &silentNode{ln: ln, got: make(chan struct{}, 1000)}
	sn.srv = &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := websocket.Accept(w, r, nil)
		if err != nil {
			return
		}
		sn.mu.Lock()
		sn.conns = append(sn.conns, c)
		sn.mu.Unlock()
		for {
			if _, _, err := c.Read(context.Background()); err != nil {
				return
			}
			sn.got <- struct{}{}
		}
	})}
	go sn.srv.Serve(ln)
	return sn
}

// kill drops every connection and stops listening.
func (sn *silentNode) kill() {
	sn.ln.Close()
	sn.mu.Lock()
	for _, c := range sn.conns {
		c.CloseNow()
	}
	sn.mu.Unlock()
	sn.srv.Close()
}

// TestDroppedConnectionFailsCallsInFlight: calls waiting on a connection
// that is lost fail at once (so the proxy retries them on another node)
// instead of hanging; the next call dials again once the node is back.
func TestDroppedConnectionFailsCallsInFlight(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	sn := startSilentNode(t, "127.0.0.1:0")
	addr := sn.ln.Addr().String()
	u := newUpstreamConn(upstream.Spec{Name: "silent", WSURL: "ws://" + addr}, time.Minute, slog.New(slog.DiscardHandler), nil)
	defer u.Close()

	const inFlight = 20
	errs := make(chan error, inFlight)
	for i := range inFlight {
		go func() {
			_, err := u.Call(context.Background(), fmt.Appendf(nil, `{"jsonrpc":"2.0","id":%d,"method":"eth_chainId"}`, i))
			errs <- err
		}()
	}
	for range inFlight {
		<-sn.got
	}
	sn.kill()
	for range inFlight {
		select {
		case err := <-errs:
			if err == nil || !strings.Contains(err.Error(), "lost") {
				t.Fatalf("call in flight ended with %v, want a lost-connection error", err)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("a call in flight hangs after its connection was lost")
		}
	}
	// Down: the dial fails, and calls within the backoff fail fast.
	if _, err := u.Call(context.Background(), []byte(`{"jsonrpc":"2.0","id":1,"method":"eth_chainId"}`)); err == nil {
		t.Fatal("a call to a dead node succeeded")
	}
	var opErr *net.OpError
	if _, err := u.Call(context.Background(), []byte(`{"jsonrpc":"2.0","id":1,"method":"eth_chainId"}`)); !errors.As(err, &opErr) || opErr.Op != "dial" {
		t.Fatalf("call during the backoff: %v, want the dial error", err)
	}
	// Back: a later call connects again.
	sn2 := startSilentNode(t, addr)
	defer sn2.kill()
	deadline := time.Now().Add(10 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		_, err := u.Call(ctx, []byte(`{"jsonrpc":"2.0","id":1,"method":"eth_chainId"}`))
		cancel()
		if errors.Is(err, context.DeadlineExceeded) {
			break // connected and waiting for an answer: the node is silent by design
		}
		if time.Now().After(deadline) {
			t.Fatalf("no reconnection: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// failingConn is a connection to a node whose writes fail once fail is
// set, as a write to a node that is closing it does, while its reads wait:
// the node's close, with its reason, has not reached the reader yet.
type failingConn struct {
	net.Conn
	fail   *atomic.Bool
	failed chan struct{} // signalled on every failed write
}

func (c *failingConn) Write(p []byte) (int, error) {
	if c.fail.Load() {
		select {
		case c.failed <- struct{}{}:
		default:
		}
		return 0, &net.OpError{Op: "write", Net: "tcp", Err: syscall.EPIPE}
	}
	return c.Conn.Write(p)
}

// TestFailedWriteWaitEndsWithTheCaller: after a failed write, a call
// waits for the node's close reason (closeReadWait), but no longer than
// its caller waits: a cancelled call returns at once. The connection is
// still dropped at the wait's end, as it is when no one cancels.
func TestFailedWriteWaitEndsWithTheCaller(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	for _, c := range []struct {
		name string
		wait time.Duration
	}{{"call returns", time.Minute}, {"connection dropped", 100 * time.Millisecond}} {
		t.Run(c.name, func(t *testing.T) {
			defer func(w time.Duration) { closeReadWait = w }(closeReadWait)
			closeReadWait = c.wait
			sn := startSilentNode(t, "127.0.0.1:0")
			defer sn.kill()
			var fail atomic.Bool
			failed := make(chan struct{}, 1)
			u := newUpstreamConn(upstream.Spec{Name: "closing", WSURL: "ws://" + sn.ln.Addr().String()}, time.Minute, slog.New(slog.DiscardHandler), nil)
			u.client = &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
				conn, err := (&net.Dialer{}).DialContext(ctx, network, addr)
				if err != nil {
					return nil, err
				}
				return &failingConn{Conn: conn, fail: &fail, failed: failed}, nil
			}}}
			defer u.Close()
			if _, err := u.get(context.Background()); err != nil {
				t.Fatal(err)
			}
			fail.Store(true)

			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			done := make(chan error, 1)
			go func() {
				_, err := u.Call(ctx, []byte(`{"jsonrpc":"2.0","id":1,"method":"eth_chainId"}`))
				done <- err
			}()
			select {
			case <-failed:
			case <-time.After(20 * time.Second):
				t.Fatal("the call was never written")
			}
			cancel()
			select {
			case err := <-done:
				// With the short wait, the wait may end before the cancel.
				if c.wait == time.Minute && !errors.Is(err, context.Canceled) {
					t.Fatalf("cancelled call ended with %v, want context.Canceled", err)
				}
			case <-time.After(20 * time.Second):
				t.Fatalf("a cancelled call still waits %v for the node's close reason", closeReadWait)
			}
			if c.wait == time.Minute {
				return
			}
			deadline := time.Now().Add(20 * time.Second)
			for {
				u.mu.Lock()
				conn := u.conn
				u.mu.Unlock()
				if conn == nil {
					break
				}
				if time.Now().After(deadline) {
					t.Fatal("the connection whose write failed was never dropped")
				}
				time.Sleep(20 * time.Millisecond)
			}
		})
	}
}

// A node whose WebSocket cannot be dialled fails the call with an error
// that does not carry its URL: an API key in it would reach the client
// (in the -32050 message), the log and trace spans.
func TestDialErrorHidesTheURL(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing listens: the dial is refused
	u := newUpstreamConn(upstream.Spec{Name: "provider", WSURL: "ws://" + addr + "/ws/v3/SECRETKEY3"}, time.Minute, slog.New(slog.DiscardHandler), nil)
	defer u.Close()
	_, err = u.Call(context.Background(), []byte(`{"jsonrpc":"2.0","id":1,"method":"eth_chainId"}`))
	if err == nil || strings.Contains(err.Error(), "SECRETKEY3") || !strings.Contains(err.Error(), "provider") {
		t.Fatalf("dial error %v: want one naming the node, without its URL's key", err)
	}
}
