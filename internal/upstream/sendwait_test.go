package upstream

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// tcpPair returns the two ends of a loopback TCP connection.
func tcpPair(t *testing.T) (client *net.TCPConn, server net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	s, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close(); s.Close() })
	return c.(*net.TCPConn), s
}

// slowPeer reads one request line from s, then after delay (a node slow
// to answer) marks answered and answers, unless the test ended first.
func slowPeer(t *testing.T, s net.Conn, delay time.Duration, answered *atomic.Bool) {
	ended := make(chan struct{})
	t.Cleanup(func() { close(ended) })
	go func() {
		if _, err := bufio.NewReader(s).ReadString('\n'); err != nil {
			return
		}
		select {
		case <-time.After(delay):
		case <-ended:
			return
		}
		answered.Store(true)
		_, _ = io.WriteString(s, "pong\n")
	}()
}

// TestSenderWaitsForTheAnswer: the request's last write returns once the
// answer can be read, so reading it takes no wait of its own.
func TestSenderWaitsForTheAnswer(t *testing.T) {
	c, s := tcpPair(t)
	var answered atomic.Bool
	slowPeer(t, s, 100*time.Millisecond, &answered)
	snd := newSender(c)
	snd.begin(time.Time{})
	snd.arm()
	if n, err := snd.Write([]byte("ping\n")); n != 5 || err != nil {
		t.Fatalf("Write = %d, %v", n, err)
	}
	if !answered.Load() {
		t.Fatal("the write returned before the node answered")
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	if line != "pong\n" || err != nil {
		t.Fatalf("answer %q, %v", line, err)
	}
}

// TestSenderInPartsWritesPlainly: a request not written whole in its last
// write does not wait for the answer.
func TestSenderInPartsWritesPlainly(t *testing.T) {
	c, s := tcpPair(t)
	var answered atomic.Bool
	slowPeer(t, s, 2*time.Second, &answered)
	snd := newSender(c)
	snd.begin(time.Time{})
	if _, err := snd.Write([]byte("pi")); err != nil {
		t.Fatal(err)
	}
	snd.arm()
	if _, err := snd.Write([]byte("ng\n")); err != nil {
		t.Fatal(err)
	}
	if answered.Load() {
		t.Fatal("the write waited for the answer")
	}
}

// TestDoRetriesAHalfClosedConnection: a node that half-closes a kept-alive
// connection while it is idle, and keeps reading, costs no wait: the call
// goes again on a new connection at once.
func TestDoRetriesAHalfClosedConnection(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	closed := make(chan struct{}, 4)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				br := bufio.NewReader(c)
				req, err := http.ReadRequest(br)
				if err != nil {
					return
				}
				_, _ = io.Copy(io.Discard, req.Body)
				_, _ = io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}")
				_ = c.(*net.TCPConn).CloseWrite() // lingering: close our side, keep reading
				closed <- struct{}{}
				_, _ = io.Copy(io.Discard, br)
			}()
		}
	}()
	n := New(Spec{Name: "n", URL: "http://" + ln.Addr().String(), Timeout: 20 * time.Second})
	defer n.Close()
	for i := range 2 {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		start := time.Now()
		b, err := n.Call(ctx, []byte(`{}`))
		cancel()
		if err != nil || string(b) != "{}" {
			t.Fatalf("call %d: %q, %v", i, b, err)
		}
		if d := time.Since(start); d > 10*time.Second {
			t.Fatalf("call %d took %s: it waited on the closed connection", i, d)
		}
		<-closed
		time.Sleep(2 * peekAfter) // the connection sits idle, its close in the socket
	}
}

// TestSenderDeadlineEndsTheWait: a node that never answers leaves the
// write to return at the deadline, and the read reports the timeout.
func TestSenderDeadlineEndsTheWait(t *testing.T) {
	c, s := tcpPair(t)
	go func() { _, _ = io.Copy(io.Discard, s) }()
	if err := c.SetDeadline(time.Now().Add(200 * time.Millisecond)); err != nil {
		t.Fatal(err)
	}
	snd := newSender(c)
	snd.begin(time.Time{})
	snd.arm()
	if n, err := snd.Write([]byte("ping\n")); n != 5 || err != nil {
		t.Fatalf("Write = %d, %v", n, err)
	}
	_, err := c.Read(make([]byte, 8))
	if !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("read after the deadline: %v", err)
	}
}

// TestSenderSeesAClosedNode: a node that closed the connection before the
// request resets it, which ends the wait; the read reports the reset.
func TestSenderSeesAClosedNode(t *testing.T) {
	c, s := tcpPair(t)
	s.Close()
	if err := c.SetDeadline(time.Now().Add(10 * time.Second)); err != nil {
		t.Fatal(err)
	}
	snd := newSender(c)
	snd.begin(time.Time{})
	snd.arm()
	start := time.Now()
	_, werr := snd.Write([]byte("ping\n"))
	_, rerr := c.Read(make([]byte, 8))
	if werr == nil && rerr == nil {
		t.Fatal("no error from a closed node")
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("the closed connection was seen only after %s", d)
	}
}

// TestLargeRequestIsSentWhole: a request larger than the connection's
// buffer goes out in parts, and its answer is read as usual.
func TestLargeRequestIsSentWhole(t *testing.T) {
	body := `{"jsonrpc":"2.0","id":1,"method":"x","params":["` + strings.Repeat("a", 3*connBufferSize) + `"]}`
	var got atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n, _ := io.Copy(io.Discard, r.Body)
		got.Store(n)
		_, _ = w.Write([]byte(`{"jsonrpc":"2.0","id":1,"result":"0x1"}`))
	}))
	defer srv.Close()
	n := New(Spec{Name: "n", URL: srv.URL})
	defer n.Close()
	for i := range 3 {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		b, err := n.Call(ctx, []byte(body))
		cancel()
		if err != nil || !strings.Contains(string(b), `"result":"0x1"`) {
			t.Fatalf("call %d: %q, %v", i, b, err)
		}
		if got.Load() != int64(len(body)) {
			t.Fatalf("call %d: the node read %d bytes of %d", i, got.Load(), len(body))
		}
	}
}
