package upstream_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/evmgate/evmgate/internal/upstream"
)

// TestInterruptEndsHeldCalls: a call waiting on the node over the pooled
// client, whose context is not watched (a short try), ends at once when
// its context is cancelled and the node interrupted, as canceled, not the
// node's fault; a call sent after the interrupt fails before it reaches
// the node; a probe still goes through.
func TestInterruptEndsHeldCalls(t *testing.T) {
	arrived, release := make(chan struct{}, 1), make(chan struct{})
	var calls atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if string(body) == "probe" {
			w.Write([]byte(`{"jsonrpc":"2.0","id":1,"result":"0x1"}`))
			return
		}
		calls.Add(1)
		arrived <- struct{}{}
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer srv.Close()
	defer close(release)
	n := newNode(t, false, true, upstream.Spec{Name: "n", URL: srv.URL})

	ctx, cancel := context.WithCancelCause(context.Background())
	tctx, tcancel := n.TryContext(ctx, time.Minute) // no timer: only the deadline is read
	defer tcancel()
	done := make(chan error, 1)
	go func() {
		_, err := n.Call(tctx, []byte(`{}`))
		done <- err
	}()
	<-arrived
	cancel(errors.New("stopping"))
	select {
	case err := <-done:
		t.Fatalf("the held call ended on its context alone (%v): the test needs a try the pooled client does not watch", err)
	case <-time.After(50 * time.Millisecond):
	}
	n.Interrupt()
	select {
	case err := <-done:
		var ue *upstream.Error
		if !errors.As(err, &ue) || ue.Kind != upstream.KindCanceled || ue.NodeFault() {
			t.Fatalf("the interrupted call: %v, want canceled, not the node's fault", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the held call still waits after Interrupt")
	}

	if _, err := n.Call(context.Background(), []byte(`{}`)); err == nil {
		t.Fatal("a call after Interrupt was answered")
	}
	if got := calls.Load(); got != 1 {
		t.Fatalf("the node saw %d calls, want 1: one after Interrupt reached it", got)
	}
	pctx, pcancel := context.WithTimeout(upstream.AsProbe(context.Background()), 10*time.Second)
	defer pcancel()
	if _, err := n.Call(pctx, []byte("probe")); err != nil {
		t.Fatalf("a probe after Interrupt: %v", err)
	}
}
