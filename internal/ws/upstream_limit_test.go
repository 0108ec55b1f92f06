package ws

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/rpc"
	"github.com/evmgate/evmgate/internal/devnet"
	"github.com/evmgate/evmgate/internal/health"
	"github.com/evmgate/evmgate/internal/upstream"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// startNode runs a one-node devnet (mining every period, if not 0) and
// returns its WebSocket URL.
func startNode(t *testing.T, period time.Duration) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	n, err := devnet.Start(ctx, devnet.Config{Nodes: 1, BlockPeriod: period})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { n.Close() })
	return n.Nodes()[0].WSURL()
}

// nodeOverWS returns a node whose calls go over u, as http_over_ws sets it.
func nodeOverWS(u *upstreamConn) *upstream.Node {
	return upstream.New(upstream.Spec{Name: u.spec.Name, Network: u.spec.Network, URL: "http://127.0.0.1:1",
		Timeout: 20 * time.Second, Transport: u})
}

// TestAnswerOverLimitFailsOnlyItsCall: on a real node's WebSocket, answers
// over the size limit fail their own calls (KindTooLarge, not counted
// against the node) while the calls beside them on the same connection
// succeed, and the connection is never dropped.
func TestAnswerOverLimitFailsOnlyItsCall(t *testing.T) {
	url := startNode(t, 0)
	m, err := newMetrics(prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	u := newUpstreamConn(upstream.Spec{Name: "node0", Network: "dev", WSURL: url}, time.Minute, slog.New(slog.DiscardHandler), m)
	defer u.Close()
	u.limit = 512 // a block is over it, a chain id is not
	n := nodeOverWS(u)

	small := []byte(`{"jsonrpc":"2.0","id":"small","method":"eth_chainId","params":[]}`)
	bodies := [][]byte{
		[]byte(`{"jsonrpc":"2.0","id":"big","method":"eth_getBlockByNumber","params":["latest",false]}`),
		[]byte(`[{"jsonrpc":"2.0","id":1,"method":"eth_chainId"},{"jsonrpc":"2.0","id":2,"method":"eth_getBlockByNumber","params":["latest",false]}]`),
	}
	const callers, rounds = 8, 10
	var wg sync.WaitGroup
	errs := make(chan error, callers*rounds*2)
	for c := range callers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for r := range rounds {
				ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
				out, err := n.Call(ctx, small)
				if err != nil || !strings.Contains(string(out), `"result":"0x539"`) {
					errs <- fmt.Errorf("small call beside big ones: %s %v", out, err)
				}
				_, err = n.Call(ctx, bodies[(c+r)%2])
				cancel()
				var ue *upstream.Error
				if !errors.As(err, &ue) || ue.Kind != upstream.KindTooLarge || health.Counts(err) {
					errs <- fmt.Errorf("call over the limit: %v, want a too_large error that does not count", err)
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if dials := testutil.ToFloat64(m.upstreamDial.WithLabelValues("dev", "node0", "ok")); dials != 1 {
		t.Fatalf("%v dials, want the one connection kept throughout", dials)
	}
}

// TestNodeClosingOverLargeMessageBlamesNoOne: geth closes its WebSocket
// (1009) over a message above its 32 MiB read limit. Every call in flight
// on the connection then fails as tries to move elsewhere that do not
// count against the node, the big one as refused for its size
// (KindRequestTooLarge); the next call reconnects.
func TestNodeClosingOverLargeMessageBlamesNoOne(t *testing.T) {
	u := newUpstreamConn(upstream.Spec{Name: "node0", Network: "dev", WSURL: startNode(t, 0)}, time.Minute, slog.New(slog.DiscardHandler), nil)
	defer u.Close()
	n := nodeOverWS(u)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	small := []byte(`{"jsonrpc":"2.0","id":1,"method":"eth_chainId","params":[]}`)
	if _, err := n.Call(ctx, small); err != nil {
		t.Fatal(err)
	}
	huge := []byte(`{"jsonrpc":"2.0","id":2,"method":"eth_chainId","params":["` + strings.Repeat("x", 33<<20) + `"]}`)
	_, err := n.Call(ctx, huge)
	var ue *upstream.Error
	if !errors.As(err, &ue) || ue.Kind != upstream.KindRequestTooLarge || health.Counts(err) {
		t.Fatalf("call over the node's message limit: %v, want a request_too_large error that does not count", err)
	}
	// The dial after a lost connection may wait out a short backoff.
	for {
		if _, err := n.Call(ctx, small); err == nil {
			break
		} else if ctx.Err() != nil {
			t.Fatalf("no call succeeds after the node closed the connection: %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestNotificationOverLimitEndsOnlyItsSubscription: a notification over
// the size limit ends its own subscription (whose feed subscribes again),
// not the connection that the node's other calls share.
func TestNotificationOverLimitEndsOnlyItsSubscription(t *testing.T) {
	m, err := newMetrics(prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	u := newUpstreamConn(upstream.Spec{Name: "node0", Network: "dev", WSURL: startNode(t, 200*time.Millisecond)}, time.Minute, slog.New(slog.DiscardHandler), m)
	defer u.Close()
	u.limit = 256 // a block header is over it; a subscription id and a chain id are not
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	st, err := u.Subscribe(ctx, []byte(`["newHeads"]`))
	if err != nil {
		t.Fatal(err)
	}
	for range st.Events() {
		t.Fatal("a notification over the limit was delivered")
	}
	if !errors.Is(st.Err(), upstream.ErrAnswerTooLarge) {
		t.Fatalf("stream ended with %v, want the size limit", st.Err())
	}
	out, err := nodeOverWS(u).Call(ctx, []byte(`{"jsonrpc":"2.0","id":1,"method":"eth_chainId","params":[]}`))
	if err != nil || !strings.Contains(string(out), `"result":"0x539"`) {
		t.Fatalf("call after the notification: %s %v", out, err)
	}
	if dials := testutil.ToFloat64(m.upstreamDial.WithLabelValues("dev", "node0", "ok")); dials != 1 {
		t.Fatalf("%v dials, want the one connection kept throughout", dials)
	}
}

// heldService is a go-ethereum RPC service: test_echo answers its
// argument, test_hold waits until released or its connection is gone.
type heldService struct {
	held    chan struct{} // gets a value when a test_hold call arrives
	release chan struct{}
}

func (s *heldService) Echo(v string) string { return v }

func (s *heldService) Hold(ctx context.Context) error {
	s.held <- struct{}{}
	select {
	case <-s.release:
	case <-ctx.Done():
	}
	return nil
}

// startLimitedGeth serves go-ethereum's RPC server over WebSocket on
// 127.0.0.1 with a read limit of limit bytes (geth's is 32 MiB), which it
// enforces as geth does: a close 1009 "message too big".
func startLimitedGeth(t *testing.T, limit int64) (url string, svc *heldService) {
	t.Helper()
	svc = &heldService{held: make(chan struct{}, 16), release: make(chan struct{})}
	srv := rpc.NewServer()
	srv.SetWebsocketReadLimit(limit)
	if err := srv.RegisterName("test", svc); err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(srv.WebsocketHandler([]string{"*"}))
	t.Cleanup(func() {
		close(svc.release)
		hs.Close()
		srv.Stop()
	})
	return "ws://" + hs.Listener.Addr().String(), svc
}

// TestNodeClosing1009RefusesTheLargeCall: a node that closes its
// WebSocket with 1009 over a call above its read limit refused that call
// for its size: it fails with KindRequestTooLarge, as an HTTP 413 does,
// and the node is not blamed. A call in flight beside it fails as one on
// a lost connection (tried elsewhere, not blamed), and the next call
// connects again.
func TestNodeClosing1009RefusesTheLargeCall(t *testing.T) {
	url, svc := startLimitedGeth(t, 4096)
	u := newUpstreamConn(upstream.Spec{Name: "node0", Network: "dev", WSURL: url}, time.Minute, slog.New(slog.DiscardHandler), nil)
	defer u.Close()
	n := nodeOverWS(u)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	small := []byte(`{"jsonrpc":"2.0","id":1,"method":"test_echo","params":["hi"]}`)
	if out, err := n.Call(ctx, small); err != nil || !strings.Contains(string(out), `"result":"hi"`) {
		t.Fatalf("a small call: %s %v", out, err)
	}

	heldErr := make(chan error, 1)
	go func() {
		_, err := n.Call(ctx, []byte(`{"jsonrpc":"2.0","id":2,"method":"test_hold","params":[]}`))
		heldErr <- err
	}()
	select {
	case <-svc.held:
	case <-ctx.Done():
		t.Fatal("test_hold did not reach the node")
	}
	large := []byte(`{"jsonrpc":"2.0","id":3,"method":"test_echo","params":["` + strings.Repeat("x", 16<<10) + `"]}`)
	_, err := n.Call(ctx, large)
	var ue *upstream.Error
	if !errors.As(err, &ue) || ue.Kind != upstream.KindRequestTooLarge || ue.Node != "node0" || health.Counts(err) {
		t.Fatalf("the call over the node's limit: %v, want a request_too_large error of node0 that does not count", err)
	}
	err = <-heldErr
	if !errors.As(err, &ue) || ue.Kind == upstream.KindRequestTooLarge || health.Counts(err) {
		t.Fatalf("the call in flight beside it: %v, want an error of the lost connection that does not count", err)
	}
	if out, err := n.Call(ctx, small); err != nil || !strings.Contains(string(out), `"result":"hi"`) {
		t.Fatalf("a small call after the node closed the connection: %s %v", out, err)
	}
}
