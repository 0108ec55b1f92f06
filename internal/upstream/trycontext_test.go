package upstream_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/evmgate/evmgate/internal/fakenode"
	"github.com/evmgate/evmgate/internal/upstream"
)

// A try made by TryContext from an Interruptible context stays
// interruptible on a plain http:// node: cancelling the context while the
// node works cuts the call at the node at once, as KindCanceled, for a
// whole answer read by CallLimit (a batch) as for Do.
func TestTryContextKeepsInterruptible(t *testing.T) {
	f, err := fakenode.Start(fakenode.Options{Name: "fake", ChainID: 1, Head: 100})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(f.Close)
	f.Record("trace_block")
	f.Hold("trace_block")
	t.Cleanup(func() { f.Release("trace_block") })
	n := upstream.New(upstream.Spec{Name: "n", URL: f.URL(), Timeout: 5 * time.Second})
	t.Cleanup(n.Close)
	if !upstream.UsesFastHTTP(n) {
		t.Fatal("a plain http:// node is not served by the pooled client")
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	tctx, end := n.TryContext(upstream.Interruptible(ctx), 3*time.Minute)
	defer end()
	failed := make(chan error, 1)
	go func() {
		_, err := n.CallLimit(tctx, []byte(`{"jsonrpc":"2.0","id":1,"method":"trace_block","params":["0x1"]}`), 1<<20)
		failed <- err
	}()
	for start := time.Now(); len(f.Arrivals("trace_block")) == 0; time.Sleep(5 * time.Millisecond) {
		if time.Since(start) > 10*time.Second {
			t.Fatal("the call did not reach the node")
		}
	}
	cancel()
	select {
	case err := <-failed:
		var ue *upstream.Error
		if !errors.As(err, &ue) || ue.Kind != upstream.KindCanceled {
			t.Fatalf("a cancelled try failed with %v, want KindCanceled", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the try runs on 10 s after its context was cancelled")
	}
	deadline := time.Now().Add(10 * time.Second)
	for f.GaveUp("trace_block") != 1 {
		if time.Now().After(deadline) {
			t.Fatal("the node's held call did not end")
		}
		time.Sleep(5 * time.Millisecond)
	}
}
