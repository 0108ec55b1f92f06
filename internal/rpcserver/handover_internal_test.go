package rpcserver

import (
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/valyala/fasthttp"
)

// TestGivenUpHandOverEndsItsCount: a hand-over whose connection broke
// before fasthttp could run the hijack handler (fasthttp closes it
// instead) no longer holds Shutdown until its deadline, and is counted
// once.
func TestGivenUpHandOverEndsItsCount(t *testing.T) {
	s := New(func(*fasthttp.RequestCtx) bool { return true }, &http.Server{}, Options{MaxBodyBytes: func() int { return 1 << 20 }})
	a, b := net.Pipe()
	defer a.Close()
	defer b.Close()
	fc := &flushConn{Conn: a, mark: noAnswer}
	fc.handing.Store(true)
	s.handing.Add(1)
	s.connState(fc, fasthttp.StateActive)
	s.connState(fc, fasthttp.StateClosed)
	s.connState(fc, fasthttp.StateClosed) // once only: a second Done would panic
	done := make(chan struct{})
	go func() { s.handing.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("the given-up hand-over is still counted")
	}
}
