package rpcserver

import (
	"context"
	"net"
	"sync/atomic"
)

// flushListener's connections count their writes (flushConn) and keep
// their deadlines until a read or a write waits on them (deadline.go).
type flushListener struct {
	net.Listener
	slack int64           // deadlineSlack
	base  context.Context // the parent of the connections' contexts (nil: none)
}

func (l flushListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	fc := &flushConn{Conn: c, mark: noAnswer, dl: deadlines{slack: l.slack}}
	if l.base != nil {
		// One context per connection, as net/http makes: a request's
		// context that needs a Done registers with it, never with the
		// base that every connection shares.
		fc.ctx, fc.cancel = context.WithCancel(l.base)
	}
	return fc, nil
}

// noAnswer is a flushConn's mark before its first answer.
const noAnswer = ^uint64(0)

// flushConn tells a handler whether the answers before its request have
// reached the socket. The fast server keeps a pipelining client's answers
// in its buffer (writeBufferSize bytes) while the next request is already
// read, and writes them out together; an answer written straight to the
// connection (longer than is held) must not overtake them. The connection
// counts its writes, and the count is marked when a request's handler
// returns: a write since the mark is the server writing out its buffer.
// Only a write of exactly the buffer's size can leave bytes behind (the
// buffer filled up in the middle of an answer), so after one the answers
// count as not written out.
type flushConn struct {
	net.Conn
	writes  atomic.Uint64
	last    atomic.Int64 // the size of the last write
	mark    uint64       // writes when the last handler returned; noAnswer before any
	handing atomic.Bool  // a request is being handed to net/http (Server.handOver)
	dl      deadlines
	ctx     context.Context // its requests' parent (nil without Options.Base)
	cancel  context.CancelFunc
}

// Context is the parent of the connection's requests' contexts: it ends
// with Options.Base (with its cause), or when the connection closes; nil
// without Options.Base.
func (c *flushConn) Context() context.Context { return c.ctx }

// Close closes the connection and ends its context.
func (c *flushConn) Close() error {
	if c.cancel != nil {
		c.cancel()
	}
	return c.Conn.Close()
}

// writeBufferSize is the fast server's write buffer.
const writeBufferSize = 4096

func (c *flushConn) Write(p []byte) (int, error) {
	if !c.dl.direct {
		if err := c.dl.settle(c.dl.writeWant, &c.dl.writeSet, c.Conn.SetWriteDeadline); err != nil {
			return 0, err
		}
	}
	n, err := c.Conn.Write(p)
	c.last.Store(int64(len(p)))
	c.writes.Add(1)
	return n, err
}

// answered marks the end of a request's handler.
func (c *flushConn) answered() { c.mark = c.writes.Load() }

// AnswersFlushed reports that every earlier answer on the connection has
// been written to it.
func (c *flushConn) AnswersFlushed() bool {
	return c.mark == noAnswer || c.writes.Load() != c.mark && c.last.Load() != writeBufferSize
}

// NetConn returns the connection it wraps.
func (c *flushConn) NetConn() net.Conn { return c.Conn }

// CloseWrite half-closes the connection when the one it wraps can.
func (c *flushConn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return nil
}
