package rpcserver

import (
	"net"
	"time"
)

// The fast server sets a connection's deadlines several times a request:
// the idle time before it, the header's and the body's read time once its
// first byte came, the write time before the answer. Each is a timer moved
// in the runtime's poller, about as costly together as the rest of the
// server's work on a small call, and most guard a read that never waits: a
// small request arrives whole, so its header and body are read from the
// buffer.
//
// So while the fast server serves a connection (only its goroutine reads,
// writes and sets deadlines then), a deadline it sets is kept here, and
// given to the socket only when a read or a write goes to the socket, and
// only when the socket's deadline is not already within deadlineSlack after
// it. A deadline later than the socket's (the next request's idle time, the
// next answer's write time) is set half the slack late, so that those of
// the requests after it on a busy connection fall within it: an idle
// connection is closed, and an answer's write cut, at most deadlineSlack
// late. One earlier than the socket's (a header's or a body's read time,
// once a read waits on it) is set as asked. No deadline ends earlier than
// asked.
//
// Once the connection is handed to net/http's server (handOver), whose
// goroutines read and set deadlines concurrently, every deadline goes to
// the socket at once (direct).

// deadlines is what a flushConn keeps of its deadlines. Times are Unix
// nanoseconds; 0 is no deadline.
type deadlines struct {
	slack               int64 // deadlineSlack for these timeouts
	readWant, writeWant int64 // what the server asked
	readSet, writeSet   int64 // what the socket has
	direct              bool  // handed over: deadlines go to the socket at once
}

// maxDeadlineSlack bounds how late a timeout may end; a shorter timeout
// (a read_header_timeout under 8 s, say) gets an eighth of its length.
const maxDeadlineSlack = time.Second

// deadlineSlack returns the slack for connections whose shortest timeout
// is shortest (0: none).
func deadlineSlack(shortest time.Duration) int64 {
	if shortest <= 0 {
		return int64(maxDeadlineSlack)
	}
	return int64(min(maxDeadlineSlack, shortest/8))
}

func unixNanos(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}

// settle gives the socket the deadline asked (want), unless the one it has
// (*set) ends no earlier and at most slack later.
func (d *deadlines) settle(want int64, set *int64, apply func(time.Time) error) error {
	if want == 0 {
		if *set == 0 {
			return nil
		}
		*set = 0
		return apply(time.Time{})
	}
	if *set >= want && *set-want <= d.slack {
		return nil
	}
	if *set != 0 && want > *set {
		// Later than the socket's (the next request's idle time, the next
		// answer's write time): leave room for the ones after it.
		*set = want + d.slack/2
	} else {
		*set = want // the first, or earlier (a header's or body's read time): exact
	}
	return apply(time.Unix(0, *set))
}

func (c *flushConn) SetReadDeadline(t time.Time) error {
	if c.dl.direct {
		return c.Conn.SetReadDeadline(t)
	}
	c.dl.readWant = unixNanos(t)
	return nil
}

func (c *flushConn) SetWriteDeadline(t time.Time) error {
	if c.dl.direct {
		return c.Conn.SetWriteDeadline(t)
	}
	c.dl.writeWant = unixNanos(t)
	return nil
}

func (c *flushConn) SetDeadline(t time.Time) error {
	if c.dl.direct {
		return c.Conn.SetDeadline(t)
	}
	c.dl.readWant, c.dl.writeWant = unixNanos(t), unixNanos(t)
	return nil
}

func (c *flushConn) Read(p []byte) (int, error) {
	if !c.dl.direct {
		if err := c.dl.settle(c.dl.readWant, &c.dl.readSet, c.Conn.SetReadDeadline); err != nil {
			return 0, err
		}
	}
	return c.Conn.Read(p)
}

// goDirect makes every deadline go to the socket at once from now on,
// starting with the ones the fast server last asked for exactly. The
// fast server no longer uses the connection.
func (c *flushConn) goDirect() {
	if c.dl.direct {
		return
	}
	c.dl.direct = true
	_ = c.Conn.SetReadDeadline(timeOf(c.dl.readWant))
	_ = c.Conn.SetWriteDeadline(timeOf(c.dl.writeWant))
}

func timeOf(nanos int64) time.Time {
	if nanos == 0 {
		return time.Time{}
	}
	return time.Unix(0, nanos)
}

var _ net.Conn = (*flushConn)(nil)
