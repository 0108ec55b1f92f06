package rpcserver

import (
	"errors"
	"net"
	"syscall"
	"testing"
)

// failingListener fails Accept with errs in turn, then accepts c.
type failingListener struct {
	net.Listener
	errs []error
	c    net.Conn
}

func (l *failingListener) Accept() (net.Conn, error) {
	if len(l.errs) > 0 {
		err := l.errs[0]
		l.errs = l.errs[1:]
		return nil, err
	}
	return l.c, nil
}

// TestSteadyListenerOutlastsTransientErrors: running out of file
// descriptors does not end serving; a closed listener does.
func TestSteadyListenerOutlastsTransientErrors(t *testing.T) {
	a, b := net.Pipe()
	defer a.Close()
	defer b.Close()
	emfile := &net.OpError{Op: "accept", Net: "tcp", Err: syscall.EMFILE}
	l := steadyListener{&failingListener{errs: []error{emfile, syscall.ENFILE, syscall.ECONNABORTED}, c: a}}
	if c, err := l.Accept(); err != nil || c != a {
		t.Fatalf("Accept after transient errors: %v, %v", c, err)
	}
	l = steadyListener{&failingListener{errs: []error{net.ErrClosed}}}
	if _, err := l.Accept(); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("Accept on a closed listener: %v, want net.ErrClosed", err)
	}
}
