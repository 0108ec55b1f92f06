package rpcserver

import (
	"net"
	"sync"
)

// handoff is a listener fed by give: the net/http server's, which accepts
// the connections the fast server hands over, and the fast server's on a
// TLS port, which accepts those whose handshake chose HTTP/1.1.
type handoff struct {
	conns     chan net.Conn
	done      chan struct{}
	closeOnce sync.Once
	err       error // what Accept returns once closed; set before done is closed
}

func newHandoff() *handoff {
	return &handoff{conns: make(chan net.Conn), done: make(chan struct{})}
}

// give hands c to the listener's server; c is closed, and give reports
// false, when the listener is closed.
func (h *handoff) give(c net.Conn) bool {
	select {
	case h.conns <- c:
		return true
	case <-h.done:
		c.Close()
		return false
	}
}

func (h *handoff) Accept() (net.Conn, error) {
	select {
	case c := <-h.conns:
		return c, nil
	case <-h.done:
		return nil, h.err
	}
}

func (h *handoff) Close() error {
	h.closeWith(net.ErrClosed)
	return nil
}

// closeWith closes the listener; Accept returns err from then on.
func (h *handoff) closeWith(err error) {
	h.closeOnce.Do(func() {
		h.err = err
		close(h.done)
	})
}

func (h *handoff) Addr() net.Addr { return handoffAddr{} }

type handoffAddr struct{}

func (handoffAddr) Network() string { return "handoff" }
func (handoffAddr) String() string  { return "handoff" }
