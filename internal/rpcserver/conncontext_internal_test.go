package rpcserver

import (
	"context"
	"errors"
	"net"
	"testing"
)

// oneConnListener accepts one connection, then fails.
type oneConnListener struct {
	net.Listener
	c net.Conn
}

func (l *oneConnListener) Accept() (net.Conn, error) {
	if c := l.c; c != nil {
		l.c = nil
		return c, nil
	}
	return nil, net.ErrClosed
}

// TestConnContext: a fast connection's context is a child of the base:
// it ends with the base's cause, and when the connection closes; without
// a base there is none.
func TestConnContext(t *testing.T) {
	stop := errors.New("stopping")
	accept := func(base context.Context) *flushConn {
		a, b := net.Pipe()
		t.Cleanup(func() { a.Close(); b.Close() })
		c, err := flushListener{Listener: &oneConnListener{c: a}, base: base}.Accept()
		if err != nil {
			t.Fatal(err)
		}
		return c.(*flushConn)
	}

	base, cancel := context.WithCancelCause(context.Background())
	stopped, closed := accept(base), accept(base)
	if stopped.Context() == nil || stopped.Context().Err() != nil {
		t.Fatalf("a new connection's context: %v", stopped.Context())
	}
	closed.Close()
	if closed.Context().Err() == nil {
		t.Fatal("a closed connection's context has not ended")
	}
	cancel(stop)
	if err := context.Cause(stopped.Context()); !errors.Is(err, stop) {
		t.Fatalf("the connection's context after the base ended: cause %v, want %v", err, stop)
	}
	if c := accept(nil); c.Context() != nil {
		t.Fatal("a connection without a base has a context")
	}
}
