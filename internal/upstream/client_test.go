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

// clients are the two ways a node is served: gzip nodes keep net/http,
// plain http:// nodes use the pooled client.
var clients = []struct {
	name string
	gzip bool
	fast bool
}{{"fasthttp", false, true}, {"net_http", true, false}}

func newNode(t *testing.T, gzip, fast bool, spec upstream.Spec) *upstream.Node {
	t.Helper()
	spec.Gzip = gzip
	n := upstream.New(spec)
	t.Cleanup(n.Close)
	if upstream.UsesFastHTTP(n) != fast {
		t.Fatalf("node %q with gzip %v: fasthttp %v, want %v", spec.Name, gzip, upstream.UsesFastHTTP(n), fast)
	}
	return n
}

func TestDoSendsHeadersHostAndBasicAuth(t *testing.T) {
	for _, cl := range clients {
		t.Run(cl.name, func(t *testing.T) { testHeadersHostAndBasicAuth(t, cl.gzip, cl.fast) })
	}
}

func testHeadersHostAndBasicAuth(t *testing.T, gzip, fast bool) {
	var got *http.Request
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = r.Clone(context.Background())
		w.Write([]byte(`{"jsonrpc":"2.0","id":1,"result":"0x1"}`))
	}))
	defer srv.Close()
	u := strings.Replace(srv.URL, "http://", "http://user:secret@", 1) + "/v3/KEY?x=1"
	n := newNode(t, gzip, fast, upstream.Spec{Name: "p", URL: u, Timeout: time.Second,
		Headers: http.Header{"Host": {"rpc.example"}, "X-Api-Key": {"k"}}})
	body, err := n.Call(context.Background(), []byte(`{"id":1}`))
	if err != nil {
		t.Fatal(err)
	}
	if string(body) != `{"jsonrpc":"2.0","id":1,"result":"0x1"}` {
		t.Fatalf("body %q", body)
	}
	if got.Host != "rpc.example" || got.Header.Get("X-Api-Key") != "k" || got.URL.Path != "/v3/KEY" || got.URL.RawQuery != "x=1" {
		t.Fatalf("host %q key %q path %q query %q", got.Host, got.Header.Get("X-Api-Key"), got.URL.Path, got.URL.RawQuery)
	}
	if got.Method != http.MethodPost || got.Header.Get("Content-Type") != "application/json" ||
		got.Header.Get("Accept") != "application/json" || got.ContentLength != 8 || got.UserAgent() != "Go-http-client/1.1" {
		t.Fatalf("method %s content type %q accept %q length %d agent %q", got.Method, got.Header.Get("Content-Type"),
			got.Header.Get("Accept"), got.ContentLength, got.UserAgent())
	}
	if user, pass, ok := got.BasicAuth(); !ok || user != "user" || pass != "secret" {
		t.Fatalf("basic auth from the URL not sent: %v %q %q", ok, user, pass)
	}
}

func TestDoClassifiesFailures(t *testing.T) {
	for _, cl := range clients {
		t.Run(cl.name, func(t *testing.T) { testClassifiesFailures(t, cl.gzip, cl.fast) })
	}
}

func testClassifiesFailures(t *testing.T, gzip, fast bool) {
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
		{"client gone before sending", hang.URL, func() (context.Context, context.CancelFunc) {
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			cancel()
			return ctx, cancel
		}, upstream.KindCanceled},
		{"deadline already passed", hang.URL, func() (context.Context, context.CancelFunc) {
			return context.WithDeadline(context.Background(), time.Now().Add(-time.Second))
		}, upstream.KindTimeout},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			if c.ctx != nil {
				ctx, cancel = c.ctx()
			}
			defer cancel()
			n := newNode(t, gzip, fast, upstream.Spec{Name: "n", URL: c.url, Timeout: time.Second})
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
		code   int
		msg    string
		behind bool
		want   bool
	}{
		{-32000, "header not found", true, true},
		{-32000, "header not found", false, false}, // a node at the head: the block is in the future
		{-32602, "block range extends beyond current head block", true, true},
		{-32602, "block range extends beyond current head block", false, false},
		{-32000, "missing trie node abc (path )", false, true},
		{-32005, "limit exceeded", false, true},
		{3, "execution reverted", true, false},
		{-32602, "invalid argument 0: hex string without 0x prefix", true, false},
		{-32601, "the method foo does not exist/is not available", false, true}, // another node may serve it
		{3, "execution reverted: pruned", true, false},                          // a contract's words say nothing of the node
		{-32000, "execution reverted: header not found", true, false},
	} {
		if got := upstream.Unavailable(c.code, c.msg, c.behind); got != c.want {
			t.Errorf("Unavailable(%d, %q, behind %v) = %v, want %v", c.code, c.msg, c.behind, got, c.want)
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

// A traced try sends its traceparent and tracestate to the node, over
// either client; an untraced one sends none.
func TestDoSendsTraceContext(t *testing.T) {
	for _, cl := range clients {
		t.Run(cl.name, func(t *testing.T) {
			got := make(chan [2]string, 2)
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				got <- [2]string{r.Header.Get("traceparent"), r.Header.Get("tracestate")}
				_, _ = io.WriteString(w, `{"jsonrpc":"2.0","id":1,"result":"0x1"}`)
			}))
			defer srv.Close()
			n := newNode(t, cl.gzip, cl.fast, upstream.Spec{Name: "n", URL: srv.URL, Timeout: 5 * time.Second})
			const tp = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
			ctx := upstream.WithTrace(context.Background(), tp, "vendor=x")
			for _, c := range []struct {
				ctx  context.Context
				want [2]string
			}{{ctx, [2]string{tp, "vendor=x"}}, {context.Background(), [2]string{}}} {
				if _, err := n.Call(c.ctx, []byte(`{"jsonrpc":"2.0","id":1,"method":"eth_blockNumber"}`)); err != nil {
					t.Fatal(err)
				}
				if h := <-got; h != c.want {
					t.Errorf("node received traceparent, tracestate %q, want %q", h, c.want)
				}
			}
		})
	}
}
