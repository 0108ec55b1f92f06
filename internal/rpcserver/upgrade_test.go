package rpcserver_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/coder/websocket"

	"github.com/evmgate/evmgate/internal/certfile/certtest"
	"github.com/evmgate/evmgate/internal/rpcserver"
)

// wsEcho accepts a WebSocket on /ws and echoes its messages; it serves
// other paths as echo does.
func wsEcho(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != "/ws" {
		echo(w, r)
		return
	}
	c, err := websocket.Accept(w, r, nil)
	if err != nil {
		return
	}
	defer c.CloseNow()
	c.SetReadLimit(1 << 20)
	ctx := r.Context()
	for {
		typ, msg, err := c.Read(ctx)
		if err != nil {
			return
		}
		if err := c.Write(ctx, typ, append([]byte("echo "), msg...)); err != nil {
			return
		}
	}
}

// wantEchoes dials url and checks that messages come back echoed.
func wantEchoes(t *testing.T, url string, client *http.Client) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	c, _, err := websocket.Dial(ctx, url, &websocket.DialOptions{HTTPClient: client})
	if err != nil {
		t.Fatalf("dial %s: %v", url, err)
	}
	defer c.CloseNow()
	c.SetReadLimit(1 << 20)
	for _, msg := range [][]byte{[]byte(`{"method":"eth_subscribe"}`), randomBytes(t, 100<<10), []byte("last")} {
		if err := c.Write(ctx, websocket.MessageBinary, msg); err != nil {
			t.Fatalf("write: %v", err)
		}
		_, got, err := c.Read(ctx)
		if err != nil {
			t.Fatalf("read: %v", err)
		}
		if want := append([]byte("echo "), msg...); !bytes.Equal(got, want) {
			t.Fatalf("echo of %d bytes is %d bytes", len(msg), len(got))
		}
	}
	if err := c.Close(websocket.StatusNormalClosure, ""); err != nil {
		t.Errorf("close: %v", err)
	}
}

// A WebSocket upgrade is handed to net/http, whatever the fast func
// would have done with its path.
func TestWebSocketHandedOver(t *testing.T) {
	f := start(t, fastOnly, http.HandlerFunc(wsEcho), options())
	wantEchoes(t, "ws://"+f.addr+"/ws", http.DefaultClient)
	if n := f.fastCalls.Load(); n != 0 {
		t.Errorf("fast was called for %d upgrade requests", n)
	}
}

// startTLS serves with a certificate for 127.0.0.1; it returns the
// fixture and clients for HTTP/2 and for HTTP/1.1 only.
func startTLS(t *testing.T, o rpcserver.Options) (f *fixture, h2, h1 *http.Client) {
	t.Helper()
	ca := certtest.NewCA(t, "test CA")
	pair := ca.Server(t, "127.0.0.1")
	cert, err := tls.X509KeyPair(pair.CertPEM, pair.KeyPEM)
	if err != nil {
		t.Fatal(err)
	}
	o.TLS = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	f = start(t, fastOnly, http.HandlerFunc(wsEcho), o)
	h2 = &http.Client{Transport: &http.Transport{
		TLSClientConfig:   &tls.Config{RootCAs: ca.Pool()},
		ForceAttemptHTTP2: true,
	}}
	h1 = &http.Client{Transport: &http.Transport{
		TLSClientConfig: &tls.Config{RootCAs: ca.Pool()},
		TLSNextProto:    map[string]func(string, *tls.Conn) http.RoundTripper{},
	}}
	t.Cleanup(h2.CloseIdleConnections)
	t.Cleanup(h1.CloseIdleConnections)
	return f, h2, h1
}

func post(t *testing.T, client *http.Client, url string, body []byte) (*http.Response, []byte) {
	t.Helper()
	req := newRequest(t, http.MethodPost, url, body)
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("POST %s: %v", url, err)
	}
	defer resp.Body.Close()
	got, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("POST %s: read body: %v", url, err)
	}
	return resp, got
}

// On a TLS port, HTTP/2 is served by net/http and HTTP/1.1 by the fast
// server, which hands over what it declines.
func TestTLSSplitsByProtocol(t *testing.T) {
	f, h2, h1 := startTLS(t, options())
	base := "https://" + f.addr
	body := randomBytes(t, 300<<10)

	for _, path := range []string{"/fast", "/other?q=1"} {
		resp, got := post(t, h2, base+path, body)
		s := wantStd(t, resp, got)
		wantBody(t, s, http.MethodPost, body)
		if resp.ProtoMajor != 2 || s.Proto != 2 {
			t.Errorf("HTTP/2 client: answer over HTTP/%d, net/http saw HTTP/%d", resp.ProtoMajor, s.Proto)
		}
	}
	if n := f.fastCalls.Load(); n != 0 {
		t.Errorf("fast was called for %d HTTP/2 requests", n)
	}

	resp, got := post(t, h1, base+"/fast", body)
	wantFast(t, resp, got, http.MethodPost, body)
	if resp.ProtoMajor != 1 {
		t.Errorf("HTTP/1.1 client: answer over HTTP/%d", resp.ProtoMajor)
	}
	resp, got = post(t, h1, base+"/other?q=1", body)
	s := wantStd(t, resp, got)
	wantBody(t, s, http.MethodPost, body)
	if s.Proto != 1 || s.Query != "q=1" {
		t.Errorf("HTTP/1.1 client: net/http saw HTTP/%d, query %q", s.Proto, s.Query)
	}
	if n := f.fastCalls.Load(); n != 2 {
		t.Errorf("fast was called for %d HTTP/1.1 requests, want 2", n)
	}

	wantEchoes(t, "wss://"+f.addr+"/ws", h1)
}

// Over TLS too, a body or a header over the limit gets the answer
// Options.Error wrote.
func TestTLSLimits(t *testing.T) {
	o := options()
	o.MaxBodyBytes = func() int { return 1 << 20 }
	o.MaxHeaderBytes = 4 << 10
	f, _, h1 := startTLS(t, o)
	base := "https://" + f.addr

	resp, got := post(t, h1, base+"/fast", randomBytes(t, 3<<20))
	if resp.StatusCode != http.StatusRequestEntityTooLarge || string(got) != "refused: Request Entity Too Large" {
		t.Errorf("body over the limit: answer %d %q, want 413 from Options.Error", resp.StatusCode, got)
	}

	req := newRequest(t, http.MethodPost, base+"/fast", []byte("{}"))
	req.Header.Set("X-Big", strings.Repeat("a", 8<<10))
	resp, err := h1.Do(req)
	if err != nil {
		t.Fatalf("header over the limit: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusRequestHeaderFieldsTooLarge {
		t.Errorf("header over the limit: answer %d, want 431", resp.StatusCode)
	}
}
