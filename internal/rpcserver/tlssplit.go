package rpcserver

import (
	"crypto/tls"
	"net"
	"time"
)

// tlsSplit is the fast server's listener on a TLS port: it accepts
// connections, runs each handshake in a goroutine of its own (a slow
// client holds up no one), and passes a connection that chose HTTP/2 to
// the net/http server, every other one to the fast server.
type tlsSplit struct {
	*handoff // what the fast server accepts
	ln       net.Listener
	cfg      *tls.Config
	timeout  time.Duration // for the handshake
	h2       func(net.Conn)
}

func newTLSSplit(ln net.Listener, cfg *tls.Config, timeout time.Duration, h2 func(net.Conn)) *tlsSplit {
	t := &tlsSplit{handoff: newHandoff(), ln: ln, cfg: cfg, timeout: timeout, h2: h2}
	go t.accept()
	return t
}

// accept runs the handshakes; ln retries what passes (steadyListener), so
// an error ends accepting and is what the fast server's Accept returns.
func (t *tlsSplit) accept() {
	for {
		c, err := t.ln.Accept()
		if err != nil {
			t.closeWith(err)
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
	t.give(tc)
}

func (t *tlsSplit) Close() error {
	err := t.ln.Close()
	t.closeWith(net.ErrClosed)
	return err
}

func (t *tlsSplit) Addr() net.Addr { return t.ln.Addr() }
