package upstream

import (
	"errors"
	"net"
	"os"
	"syscall"
	"time"
)

// sender is the writer under a node connection's buffered writer. The
// last write of a request (its flush) is sent and then waits until the
// connection is readable, in one pass through the runtime's poller, so that
// reading the answer takes one read call instead of a first one that finds
// nothing (EAGAIN) and a second after the wait.
//
// Waiting before reading is safe because a node sends nothing before the
// request: the poller's readiness is cleared before the request is written,
// so whatever wakes the wait came after it (the answer, or the reset of a
// connection the node had closed). The one thing that can come before is
// the node closing a kept-alive connection while it sat idle; the close is
// then in the socket but no longer reported. So a connection idle for
// peekAfter or more is first peeked at (a system call, as the read it
// saves): when the node closed it, the request is written the usual way
// and its read finds the close at once. A wait that ends for any other
// reason (the deadline, a close) leaves the answer's read to report it.
//
// What is left: a connection reused within peekAfter of its last answer,
// which the node closed in that time without a reset to follow (a
// half-close that keeps reading, or a peer gone at once). Its request
// waits for the try's deadline and the call goes to another node; a node
// that closes an idle connection the usual way resets it on the request,
// which ends the wait at once.
type sender struct {
	c   net.Conn
	raw syscall.RawConn // nil: plain writes

	peek  bool // look for a close from the node before writing
	armed bool // the next write is a request's last
	wrote int  // writes since the request began

	// The write in progress through raw.
	p    []byte
	n    int // written so far; what is left goes the usual way
	err  error
	sent bool
	fn   func(fd uintptr) bool
}

func newSender(c net.Conn) *sender {
	s := &sender{c: c}
	if tc, ok := c.(*net.TCPConn); ok {
		if raw, err := tc.SyscallConn(); err == nil {
			s.raw = raw
			s.fn = s.writeThenWait
		}
	}
	return s
}

// peekAfter is how long a connection may sit idle before its socket is
// peeked at for a close from the node.
const peekAfter = 2 * time.Millisecond

// begin marks the start of a request on a connection idle since lastUse
// (zero: a new connection).
func (s *sender) begin(lastUse time.Time) {
	s.wrote, s.armed = 0, false
	s.peek = !lastUse.IsZero() && time.Since(lastUse) >= peekAfter
}

// arm makes the next write send and wait, when the whole request is in
// that write (nothing of it went out before).
func (s *sender) arm() { s.armed = s.raw != nil && s.wrote == 0 }

func (s *sender) Write(p []byte) (int, error) {
	s.wrote++
	if !s.armed || len(p) == 0 {
		return s.c.Write(p)
	}
	s.armed = false
	s.p, s.n, s.err, s.sent = p, 0, nil, false
	_ = s.raw.Read(s.fn) // a failed wait shows when the answer is read
	n, err := s.n, s.err
	s.p, s.err = nil, nil
	if err != nil {
		return n, &net.OpError{Op: "write", Net: "tcp", Source: s.c.LocalAddr(), Addr: s.c.RemoteAddr(), Err: os.NewSyscallError("write", err)}
	}
	if n < len(p) { // the send buffer was full, or the node closed: the rest the usual way
		m, err := s.c.Write(p[n:])
		return n + m, err
	}
	return n, nil
}

// writeThenWait writes s.p on its first call and asks to wait for
// readability; the call after the wait ends the pass.
func (s *sender) writeThenWait(fd uintptr) bool {
	if s.sent {
		return true
	}
	s.sent = true
	if s.peek && !emptySocket(fd) {
		return true // written the usual way, so that its read finds the close
	}
	for s.n < len(s.p) {
		m, err := syscall.Write(int(fd), s.p[s.n:])
		switch {
		case errors.Is(err, syscall.EINTR):
			continue
		case errors.Is(err, syscall.EAGAIN):
			return true
		case err != nil:
			s.err = err
			return true
		}
		s.n += m
	}
	return false
}

// emptySocket reports that nothing waits to be read on fd: no data, no
// close, no error.
func emptySocket(fd uintptr) bool {
	var b [1]byte
	for {
		_, _, err := syscall.Recvfrom(int(fd), b[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
		if errors.Is(err, syscall.EINTR) {
			continue
		}
		return errors.Is(err, syscall.EAGAIN)
	}
}
