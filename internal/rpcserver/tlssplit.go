package rpcserver

import (
	"crypto/tls"
	"errors"
	"net"
	"sync"
	"time"
)

// tlsSplit is the fast server's listener on a TLS port: it accepts
// connections, runs each handshake in a goroutine of its own (a slow
// client holds up no one), and passes a connection that chose HTTP/2 to
// the net/http server, every other one to the fast server.
type tlsSplit struct {
	ln      net.Listener
	cfg     *tls.Config
	timeout time.Duration // for the handshake
	h2      func(net.Conn)

	conns     chan net.Conn
	done      chan struct{}
	closeOnce sync.Once
	err       error // why accepting stopped; set before done is closed
}

func newTLSSplit(ln net.Listener, cfg *tls.Config, timeout time.Duration, h2 func(net.Conn)) *tlsSplit {
	t := &tlsSplit{ln: ln, cfg: cfg, timeout: timeout, h2: h2, conns: make(chan net.Conn), done: make(chan struct{})}
	go t.accept()
	return t
}

func (t *tlsSplit) accept() {
	for {
		c, err := t.ln.Accept()
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				time.Sleep(5 * time.Millisecond) // out of file descriptors, for a moment
				continue
			}
			t.stop(err)
			return
		}
		go t.handshake(c)
	}
}

func (t *tlsSplit) handshake(c net.Conn) {
	tc := tls.Server(c, t.cfg)
	if t.timeout > 0 {
		_ = tc.SetDeadline(time.Now().Add(t.timeout))
	}
	if err := tc.Handshake(); err != nil {
		tc.Close()
		return
	}
	_ = tc.SetDeadline(time.Time{})
	if tc.ConnectionState().NegotiatedProtocol == "h2" {
		t.h2(tc)
		return
	}
	select {
	case t.conns <- tc:
	case <-t.done:
		tc.Close()
	}
}

func (t *tlsSplit) Accept() (net.Conn, error) {
	select {
	case c := <-t.conns:
		return c, nil
	case <-t.done:
		return nil, t.err
	}
}

func (t *tlsSplit) stop(err error) {
	t.closeOnce.Do(func() {
		t.err = err
		close(t.done)
	})
}

func (t *tlsSplit) Close() error {
	err := t.ln.Close()
	t.stop(net.ErrClosed)
	return err
}

func (t *tlsSplit) Addr() net.Addr { return t.ln.Addr() }
