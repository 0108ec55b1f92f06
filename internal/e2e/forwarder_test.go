package e2e

import (
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/evmgate/evmgate/internal/devnet"
)

// fwdMode is what a forwarder does with connections.
type fwdMode int32

const (
	// modePass relays bytes both ways.
	modePass fwdMode = iota
	// modeHang accepts connections and reads requests but never answers;
	// connections open when it starts stop answering too.
	modeHang
	// modeRefuse closes the listener (new connections are refused) and
	// every open connection, like a process that died.
	modeRefuse
)

// forwarder is a TCP relay on 127.0.0.1 in front of a real node, so a test
// can make that node hang or vanish without touching it.
type forwarder struct {
	target string // host:port of the node
	addr   string // host:port the forwarder listens on
	mode   atomic.Int32

	mu    sync.Mutex // protects ln, conns, closed
	ln    net.Listener
	conns map[net.Conn]struct{}
	done  bool
	wg    sync.WaitGroup
}

// startForwarder relays 127.0.0.1:<free port> to targetURL's host:port and
// stops when the test ends.
func startForwarder(t testing.TB, targetURL string) *forwarder {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("forwarder listen: %v", err)
	}
	f := &forwarder{
		target: strings.TrimPrefix(targetURL, "http://"),
		addr:   ln.Addr().String(),
		conns:  map[net.Conn]struct{}{},
	}
	f.serve(ln)
	t.Cleanup(f.Close)
	return f
}

// URL is the forwarder's http URL.
func (f *forwarder) URL() string { return "http://" + f.addr }

// SetMode switches the forwarder's behaviour.
func (f *forwarder) SetMode(m fwdMode) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.done {
		return errors.New("forwarder closed")
	}
	f.mode.Store(int32(m))
	switch {
	case m == modeRefuse && f.ln != nil:
		f.ln.Close()
		f.ln = nil
		for c := range f.conns {
			c.Close()
		}
	case m != modeRefuse && f.ln == nil:
		ln, err := net.Listen("tcp", f.addr)
		if err != nil {
			return fmt.Errorf("forwarder listen again on %s: %w", f.addr, err)
		}
		f.serveLocked(ln)
	}
	return nil
}

func (f *forwarder) serve(ln net.Listener) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.serveLocked(ln)
}

func (f *forwarder) serveLocked(ln net.Listener) {
	f.ln = ln
	f.wg.Add(1)
	go func() {
		defer f.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			if !f.track(c) {
				return
			}
			f.wg.Add(1)
			go func() { defer f.wg.Done(); f.handle(c) }()
		}
	}()
}

// track records c so Close and refuse can close it; false once closed.
func (f *forwarder) track(c net.Conn) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.done {
		c.Close()
		return false
	}
	f.conns[c] = struct{}{}
	return true
}

func (f *forwarder) untrack(cs ...net.Conn) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, c := range cs {
		delete(f.conns, c)
		c.Close()
	}
}

// handle relays one client connection. A connection that saw hang mode
// stays hung: it swallows requests and never answers until the client
// closes it.
func (f *forwarder) handle(client net.Conn) {
	var hung atomic.Bool
	if fwdMode(f.mode.Load()) != modePass {
		hung.Store(true)
		_, _ = io.Copy(io.Discard, client)
		f.untrack(client)
		return
	}
	node, err := net.Dial("tcp", f.target)
	if err != nil || !f.track(node) {
		f.untrack(client)
		return
	}
	f.wg.Add(1)
	go func() {
		defer f.wg.Done()
		f.pump(client, node, &hung)
		if !hung.Load() {
			f.untrack(client) // the node closed: pass that on
		}
	}()
	f.pump(node, client, &hung)
	f.untrack(client, node)
}

// pump copies src to dst until src ends, dropping everything once the
// connection is hung.
func (f *forwarder) pump(dst, src net.Conn, hung *atomic.Bool) {
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 && fwdMode(f.mode.Load()) == modeHang {
			hung.Store(true)
		}
		if n > 0 && !hung.Load() {
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

// Close stops listening, closes every connection and waits.
func (f *forwarder) Close() {
	f.mu.Lock()
	f.done = true
	if f.ln != nil {
		f.ln.Close()
		f.ln = nil
	}
	for c := range f.conns {
		c.Close()
	}
	f.mu.Unlock()
	f.wg.Wait()
}

// TestForwarderModes checks the drill's tool on a real node: pass relays,
// hang never answers (also on a connection opened while passing), refuse
// refuses, and pass relays again on the same address.
func TestForwarderModes(t *testing.T) {
	net := startNet(t, devnet.Config{Nodes: 1})
	f := startForwarder(t, net.Nodes()[0].HTTPURL())
	hc := newHTTPClient()
	hc.Timeout = 300 * time.Millisecond
	defer hc.CloseIdleConnections()
	ask := func() error {
		resp, err := hc.Post(f.URL(), "application/json", strings.NewReader(`{"jsonrpc":"2.0","id":1,"method":"eth_chainId","params":[]}`))
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		if err == nil && !strings.Contains(string(b), `"result":"0x539"`) {
			err = fmt.Errorf("unexpected answer %s", b)
		}
		return err
	}
	if err := ask(); err != nil {
		t.Fatalf("pass: %v", err)
	}
	for _, step := range []struct {
		mode fwdMode
		want string // "" for success, else a substring of the error
	}{
		{modeHang, "Client.Timeout"},
		{modeHang, "Client.Timeout"},
		{modeRefuse, "connection refused"},
		{modePass, ""},
		{modePass, ""},
	} {
		if err := f.SetMode(step.mode); err != nil {
			t.Fatal(err)
		}
		err := ask()
		if (step.want == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), step.want)) {
			t.Fatalf("mode %d: error %v, want %q", step.mode, err, step.want)
		}
	}
}
