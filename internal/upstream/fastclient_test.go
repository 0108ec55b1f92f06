package upstream_test

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/evmgate/evmgate/internal/upstream"
)

func TestClientChoice(t *testing.T) {
	for _, c := range []struct {
		url  string
		gzip bool
		fast bool
	}{
		{"http://127.0.0.1:8545", false, true},
		{"http://user:pw@127.0.0.1:8545/v3/key", false, true},
		{"http://127.0.0.1:8545", true, false},
		{"https://rpc.example/v3/key", false, false},
	} {
		n := upstream.New(upstream.Spec{Name: "n", URL: c.url, Gzip: c.gzip})
		if upstream.UsesFastHTTP(n) != c.fast {
			t.Errorf("%s gzip %v: fasthttp %v, want %v", c.url, c.gzip, upstream.UsesFastHTTP(n), c.fast)
		}
	}
}

// TestDoStreamsTheAnswer: Do returns while the node is still sending, and
// the body's first bytes can be read before the rest exists.
func TestDoStreamsTheAnswer(t *testing.T) {
	for _, cl := range clients {
		t.Run(cl.name, func(t *testing.T) {
			rest := make(chan struct{})
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
				w.Write([]byte(`{"jsonrpc":"2.0","id":1,"result":"`))
				w.(http.Flusher).Flush()
				select {
				case <-rest:
				case <-time.After(10 * time.Second):
				}
				w.Write(bytes.Repeat([]byte("a"), 100<<10))
				w.Write([]byte(`"}`))
			}))
			defer srv.Close()
			n := newNode(t, cl.gzip, cl.fast, upstream.Spec{Name: "n", URL: srv.URL})
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			resp, err := n.Do(ctx, []byte(`{}`))
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Close()
			head := make([]byte, 10)
			if _, err := io.ReadFull(resp.Body, head); err != nil || string(head) != `{"jsonrpc"` {
				t.Fatalf("first bytes %q, %v", head, err)
			}
			if resp.ContentLength != -1 {
				t.Fatalf("content length %d for a chunked answer", resp.ContentLength)
			}
			close(rest)
			tail, err := io.ReadAll(resp.Body)
			if err != nil || len(head)+len(tail) != 100<<10+36 {
				t.Fatalf("read %d bytes, %v", len(head)+len(tail), err)
			}
		})
	}
}

// TestDoReusesConnections: answers read to the end, read in part or not at
// all go back to the pool; the node sees one connection.
func TestDoReusesConnections(t *testing.T) {
	var conns atomic.Int32
	answer := []byte(`{"jsonrpc":"2.0","id":1,"result":"0x1"}`)
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Has("chunked") {
			w.Write(answer)
			w.(http.Flusher).Flush()
			return
		}
		w.Write(answer)
	}))
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	srv.Start()
	defer srv.Close()
	for _, q := range []string{"", "?chunked"} {
		n := newNode(t, false, true, upstream.Spec{Name: "n", URL: srv.URL + q, MaxConcurrency: 4})
		conns.Store(0)
		for i := range 6 {
			resp, err := n.Do(context.Background(), []byte(`{}`))
			if err != nil {
				t.Fatal(err)
			}
			switch i % 3 {
			case 0:
				io.ReadAll(resp.Body)
			case 1:
				resp.Body.Read(make([]byte, 5))
			}
			resp.Close()
		}
		if b, err := n.Call(context.Background(), []byte(`{}`)); err != nil || !bytes.Equal(b, answer) {
			t.Fatalf("call: %q, %v", b, err)
		}
		if c := conns.Load(); c != 1 {
			t.Fatalf("%q: %d connections for 7 sequential calls, want 1", q, c)
		}
	}
}

// TestDoRetriesAStaleConnection: a node that closes a kept-alive connection
// while it is idle costs no failed try.
func TestDoRetriesAStaleConnection(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	var served atomic.Int32
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			// One answer per connection, then close without saying so.
			if req, err := http.ReadRequest(bufio.NewReader(c)); err == nil {
				io.Copy(io.Discard, req.Body)
				served.Add(1)
				io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}")
			}
			c.Close()
		}
	}()
	n := newNode(t, false, true, upstream.Spec{Name: "n", URL: "http://" + ln.Addr().String(), Timeout: 2 * time.Second})
	for i := range 3 {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		b, err := n.Call(ctx, []byte(`{}`))
		cancel()
		if err != nil || string(b) != "{}" {
			t.Fatalf("call %d: %q, %v", i, b, err)
		}
	}
	ln.Close()
	<-done
	if s := served.Load(); s != 3 {
		t.Fatalf("node served %d calls, want 3", s)
	}
}

// TestAuthorizationHeaderWins: a node's own Authorization header replaces
// the basic auth of its URL, as with net/http.
func TestAuthorizationHeaderWins(t *testing.T) {
	for _, cl := range clients {
		t.Run(cl.name, func(t *testing.T) {
			got := make(chan string, 1)
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				got <- strings.Join(r.Header.Values("Authorization"), "|")
				w.Write([]byte(`{}`))
			}))
			defer srv.Close()
			u := strings.Replace(srv.URL, "http://", "http://user:secret@", 1)
			n := newNode(t, cl.gzip, cl.fast, upstream.Spec{Name: "n", URL: u, Headers: http.Header{"Authorization": {"Bearer t"}}})
			if _, err := n.Call(context.Background(), []byte(`{}`)); err != nil {
				t.Fatal(err)
			}
			if a := <-got; a != "Bearer t" {
				t.Fatalf("Authorization %q, want the node's header alone", a)
			}
		})
	}
}

// TestDoPoolSizedToConcurrency: a node with max_concurrency 1 gets one
// connection; a second call waits for it until its deadline.
func TestDoPoolSizedToConcurrency(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.Write([]byte(`{}`)) }))
	defer srv.Close()
	n := newNode(t, false, true, upstream.Spec{Name: "n", URL: srv.URL, MaxConcurrency: 1})
	first, err := n.Do(context.Background(), []byte(`{}`))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	_, err = n.Do(ctx, []byte(`{}`))
	var ue *upstream.Error
	if !errors.As(err, &ue) || ue.Kind != upstream.KindTimeout {
		t.Fatalf("second call while the only connection is busy: %v, want a timeout", err)
	}
	first.Close()
	if _, err := n.Call(context.Background(), []byte(`{}`)); err != nil {
		t.Fatalf("call after the connection came back: %v", err)
	}
}
