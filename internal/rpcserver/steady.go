package rpcserver

import (
	"errors"
	"net"
	"syscall"
	"time"
)

// steadyListener retries an Accept that failed for want of resources (out
// of file descriptors, buffers or memory, or a connection aborted before
// it was accepted), waiting 5 ms, then twice as long each time up to 1 s,
// as net/http's server does: such a failure passes, and the port must not
// stop serving for it. Any other error ends serving.
type steadyListener struct{ net.Listener }

func (l steadyListener) Accept() (net.Conn, error) {
	var delay time.Duration
	for {
		c, err := l.Listener.Accept()
		if err == nil || !transient(err) {
			return c, err
		}
		delay = min(max(2*delay, 5*time.Millisecond), time.Second)
		time.Sleep(delay) // nothing to wait for but time: the resource is the kernel's
	}
}

func transient(err error) bool {
	var ne net.Error
	return errors.Is(err, syscall.EMFILE) || errors.Is(err, syscall.ENFILE) ||
		errors.Is(err, syscall.ECONNABORTED) || errors.Is(err, syscall.ENOBUFS) ||
		errors.Is(err, syscall.ENOMEM) || errors.As(err, &ne) && ne.Timeout()
}
