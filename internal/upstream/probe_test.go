package upstream_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/evmgate/evmgate/internal/fakenode"
	"github.com/evmgate/evmgate/internal/upstream"
)

const heldMethod = "debug_traceTransaction"

// TestProbeNotHeldBehindCalls: a node with max_concurrency 2 whose two
// calls the node holds still answers a probe at once, on one connection
// of its own that the next probes reuse; a third call (not a probe) still
// finds no connection on the pooled client, whose limit stays exact.
func TestProbeNotHeldBehindCalls(t *testing.T) {
	for _, cl := range clients {
		t.Run(cl.name, func(t *testing.T) { testProbeNotHeldBehindCalls(t, cl.gzip, cl.fast) })
	}
}

func testProbeNotHeldBehindCalls(t *testing.T, gzip, fast bool) {
	f, err := fakenode.Start(fakenode.Options{Name: "f", ChainID: 1, Head: 100})
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	// The fake node's handler behind a server that counts connections.
	var conns atomic.Int32
	srv := httptest.NewUnstartedServer(f)
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	srv.Start()
	defer srv.Close()
	f.Hold(heldMethod)
	f.Record(heldMethod)
	defer f.Release(heldMethod)

	n := newNode(t, gzip, fast, upstream.Spec{Name: "n", URL: srv.URL, MaxConcurrency: 2, Timeout: time.Minute})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	held := make(chan error, 2)
	for i := range 2 {
		go func() {
			body := fmt.Sprintf(`{"jsonrpc":"2.0","id":%d,"method":%q,"params":["0x%x"]}`, i+1, heldMethod, i+1)
			_, err := n.Call(ctx, []byte(body))
			held <- err
		}()
	}
	waitArrivals(t, f, 2)

	// The probes' deadline is far shorter than the held calls: a probe
	// that waited for one of their connections would time out.
	for i := range 3 {
		pctx, pcancel := context.WithTimeout(upstream.AsProbe(ctx), 5*time.Second)
		start := time.Now()
		b, err := n.Call(pctx, []byte(`{"jsonrpc":"2.0","id":1,"method":"eth_blockNumber","params":[]}`))
		pcancel()
		if err != nil || !strings.Contains(string(b), `"result":"0x64"`) {
			t.Fatalf("probe %d while both calls are held: %q, %v (after %s)", i, b, err, time.Since(start))
		}
	}
	if c := conns.Load(); c != 3 {
		t.Errorf("%d connections for 2 held calls and 3 probes in a row, want 3: the probes share one", c)
	}

	if fast {
		// A call is no probe: both of the calls' connections are busy.
		cctx, ccancel := context.WithTimeout(ctx, 200*time.Millisecond)
		_, err := n.Call(cctx, []byte(`{"jsonrpc":"2.0","id":1,"method":"eth_blockNumber","params":[]}`))
		ccancel()
		var ue *upstream.Error
		if !errors.As(err, &ue) || ue.Kind != upstream.KindTimeout {
			t.Errorf("a third call while max_concurrency 2 calls are held: %v, want a timeout waiting for a connection", err)
		}
		if c := conns.Load(); c != 3 {
			t.Errorf("%d connections after a third call, want 3: it must not open one", c)
		}
	}

	f.Release(heldMethod)
	for range 2 {
		if err := <-held; err != nil {
			t.Errorf("held call after its release: %v", err)
		}
	}
}

// TestProbesBoundedApart: a node's probes take at most a few connections
// of their own, whatever the calls hold, and wait for one only behind
// other probes.
func TestProbesBoundedApart(t *testing.T) {
	f := holdingNode(t)
	n := newNode(t, false, true, upstream.Spec{Name: "n", URL: f.URL(), MaxConcurrency: 1, Timeout: time.Minute})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	done := make(chan error, 4)
	for i := range 4 {
		go func() {
			c := ctx
			if i > 0 {
				c = upstream.AsProbe(ctx) // probes held too: only two get a connection
			}
			body := fmt.Sprintf(`{"jsonrpc":"2.0","id":%d,"method":%q,"params":[]}`, i+1, heldMethod)
			_, err := n.Call(c, []byte(body))
			done <- err
		}()
	}
	waitArrivals(t, f, 3)
	// The fourth waits for a probe's connection; give it time to show
	// otherwise.
	time.Sleep(200 * time.Millisecond)
	if a := len(f.Arrivals(heldMethod)); a != 3 {
		t.Fatalf("the node saw %d held calls, want 3: max_concurrency 1 and two probes' connections", a)
	}
	f.Release(heldMethod)
	for range 4 {
		if err := <-done; err != nil {
			t.Errorf("held call after its release: %v", err)
		}
	}
	if a := len(f.Arrivals(heldMethod)); a != 4 {
		t.Errorf("the node saw %d calls after the release, want 4", a)
	}
}

// TestBackgroundFetchNotHeldBehindCalls: the gateway's own fetch (a
// subscription's) takes a free call's connection when there is one, and
// when the node's calls hold every one, a probe's instead of waiting
// behind them.
func TestBackgroundFetchNotHeldBehindCalls(t *testing.T) {
	f := holdingNode(t)
	n := newNode(t, false, true, upstream.Spec{Name: "n", URL: f.URL(), MaxConcurrency: 1, Timeout: time.Minute})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	fetch := func() error {
		fctx, fcancel := context.WithTimeout(upstream.AsBackground(ctx), 5*time.Second)
		defer fcancel()
		b, err := n.Call(fctx, []byte(`{"jsonrpc":"2.0","id":1,"method":"eth_blockNumber","params":[]}`))
		if err == nil && !strings.Contains(string(b), `"result":"0x64"`) {
			err = fmt.Errorf("answer %s", b)
		}
		return err
	}
	if err := fetch(); err != nil {
		t.Fatalf("a fetch while nothing is held: %v", err)
	}
	held := make(chan error, 1)
	go func() {
		_, err := n.Call(ctx, []byte(`{"jsonrpc":"2.0","id":1,"method":"`+heldMethod+`","params":[]}`))
		held <- err
	}()
	waitArrivals(t, f, 1)
	for i := range 3 {
		if err := fetch(); err != nil {
			t.Fatalf("fetch %d while the node's only call slot is held: %v", i, err)
		}
	}
	f.Release(heldMethod)
	if err := <-held; err != nil {
		t.Errorf("held call after its release: %v", err)
	}
}

// holdingNode starts a fake node that holds heldMethod's calls, recording
// their arrival, until the test releases them (or ends).
func holdingNode(t *testing.T) *fakenode.Node {
	t.Helper()
	f, err := fakenode.Start(fakenode.Options{Name: "f", ChainID: 1, Head: 100})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(f.Close)
	f.Hold(heldMethod)
	f.Record(heldMethod)
	t.Cleanup(func() { f.Release(heldMethod) }) // before Close: cleanups run last first
	return f
}

// waitArrivals waits until f has seen want held calls arrive.
func waitArrivals(t *testing.T, f *fakenode.Node, want int) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for len(f.Arrivals(heldMethod)) < want {
		if time.Now().After(deadline) {
			t.Fatalf("the node saw %d held calls after 30s, want %d", len(f.Arrivals(heldMethod)), want)
		}
		time.Sleep(10 * time.Millisecond) // polling the node's record: it has no signal of its own
	}
}
