//go:build unix

package proxy

import (
	"errors"
	"net"
	"syscall"
)

// peerPeekable says that peerClosed can see a client that went away.
const peerPeekable = true

// peerClosed reports that the client at the other end of c has closed the
// connection (or reset it), by peeking at the socket without waiting or
// taking anything from it. A client that sent more (a pipelined request)
// or whose TLS layer sent a closing alert reads as still there.
func peerClosed(c net.Conn) bool {
	for {
		u, ok := c.(interface{ NetConn() net.Conn })
		if !ok {
			break
		}
		c = u.NetConn()
	}
	sc, ok := c.(syscall.Conn)
	if !ok {
		return false
	}
	raw, err := sc.SyscallConn()
	if err != nil {
		return false
	}
	closed := false
	var b [1]byte
	_ = raw.Read(func(fd uintptr) bool {
		n, _, err := syscall.Recvfrom(int(fd), b[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
		closed = n == 0 && err == nil || errors.Is(err, syscall.ECONNRESET)
		return true
	})
	return closed
}
