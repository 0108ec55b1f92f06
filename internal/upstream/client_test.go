package upstream_test

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/evmgate/evmgate/internal/upstream"
)

func TestDoSendsHeadersHostAndBasicAuth(t *testing.T) {
	var got *http.Request
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = r.Clone(context.Background())
		w.Write([]byte(`{"jsonrpc":"2.0","id":1,"result":"0x1"}`))
	}))
	defer srv.Close()
	u := strings.Replace(srv.URL, "http://", "http://user:secret@", 1) + "/v3/KEY?x=1"
	n := upstream.New(upstream.Spec{Name: "p", URL: u, Timeout: time.Second,
		Headers: http.Header{"Host": {"rpc.example"}, "X-Api-Key": {"k"}}})
	if _, err := n.Call(context.Background(), []byte(`{}`)); err != nil {
		t.Fatal(err)
	}
	if got.Host != "rpc.example" || got.Header.Get("X-Api-Key") != "k" || got.URL.Path != "/v3/KEY" || got.URL.RawQuery != "x=1" {
		t.Fatalf("host %q key %q path %q query %q", got.Host, got.Header.Get("X-Api-Key"), got.URL.Path, got.URL.RawQuery)
	}
	if user, pass, ok := got.BasicAuth(); !ok || user != "user" || pass != "secret" {
		t.Fatalf("basic auth from the URL not sent: %v %q %q", ok, user, pass)
	}
}

func TestDoClassifiesFailures(t *testing.T) {
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	refused := "http://" + ln.Addr().String() + "/?apikey=SECRET"
	ln.Close()
	s500 := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(503) }))
	defer s500.Close()
	s429 := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(429) }))
	defer s429.Close()
	hang := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body) // the server watches the connection once the body is read
		<-r.Context().Done()
	}))
	defer hang.Close()

	cases := []struct {
		name string
		url  string
		ctx  func() (context.Context, context.CancelFunc)
		want upstream.Kind
	}{
		{"refused", refused, nil, upstream.KindDial},
		{"503", s500.URL, nil, upstream.KindStatus},
		{"429", s429.URL, nil, upstream.KindRateLimited},
		{"per-try timeout", hang.URL, func() (context.Context, context.CancelFunc) {
			return context.WithTimeoutCause(context.Background(), 50*time.Millisecond, upstream.ErrTryTimeout)
		}, upstream.KindTimeout},
		{"client gone", hang.URL, func() (context.Context, context.CancelFunc) {
			ctx, cancel := context.WithCancel(context.Background())
			time.AfterFunc(50*time.Millisecond, cancel)
			return ctx, cancel
		}, upstream.KindCanceled},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			if c.ctx != nil {
				ctx, cancel = c.ctx()
			}
			defer cancel()
			n := upstream.New(upstream.Spec{Name: "n", URL: c.url, Timeout: time.Second})
			_, err := n.Call(ctx, []byte(`{}`))
			var ue *upstream.Error
			if !errors.As(err, &ue) || ue.Kind != c.want {
				t.Fatalf("got %v, want kind %s", err, c.want)
			}
			if strings.Contains(err.Error(), "SECRET") {
				t.Fatalf("the error leaks the URL's key: %v", err)
			}
		})
	}
}

func TestUnavailable(t *testing.T) {
	for _, c := range []struct {
		code int
		msg  string
		want bool
	}{
		{-32000, "header not found", true},
		{-32000, "missing trie node abc (path )", true},
		{-32005, "limit exceeded", true},
		{3, "execution reverted", false},
		{-32602, "invalid argument 0: hex string without 0x prefix", false},
		{-32601, "the method foo does not exist/is not available", false},
	} {
		if got := upstream.Unavailable(c.code, c.msg); got != c.want {
			t.Errorf("Unavailable(%d, %q) = %v, want %v", c.code, c.msg, got, c.want)
		}
	}
}

func TestWorkerSlots(t *testing.T) {
	n := upstream.New(upstream.Spec{Name: "n", URL: "http://127.0.0.1:1", MaxConcurrency: 2})
	if !n.TryAcquire() || !n.TryAcquire() || n.TryAcquire() {
		t.Fatal("two slots: the third acquire must fail")
	}
	n.Release()
	if !n.HasFreeSlot() || !n.TryAcquire() {
		t.Fatal("a released slot must be free again")
	}
}
