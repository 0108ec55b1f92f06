package proxy_test

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/evmgate/evmgate/internal/balancer"
	"github.com/evmgate/evmgate/internal/fakenode"
	"github.com/evmgate/evmgate/internal/methodset"
	"github.com/evmgate/evmgate/internal/proxy"
	"github.com/evmgate/evmgate/internal/upstream"
	"github.com/valyala/fasthttp"
)

// slots is a Scheduler that picks as the pool does and counts the slots
// held.
type slots struct {
	pool *balancer.Pool
	held atomic.Int64
}

func (s *slots) Acquire(_ context.Context, _ proxy.Class, _ bool, tried []*upstream.Node, need balancer.Need) (*upstream.Node, error) {
	n := s.pool.Pick(tried, need)
	if n == nil {
		return nil, proxy.ErrNoNode
	}
	s.held.Add(1)
	return n, nil
}

func (s *slots) Release(*upstream.Node) { s.held.Add(-1) }

// outcomes records what each try's node was judged on.
type outcomes struct {
	mu   sync.Mutex
	errs []error
}

func (o *outcomes) Observe(_ *upstream.Node, err error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.errs = append(o.errs, err)
}

// onlyCanceled reports whether every try ended as the client's leaving.
func (o *outcomes) onlyCanceled() (bool, []error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	for _, err := range o.errs {
		var ue *upstream.Error
		if !errors.As(err, &ue) || ue.Kind != upstream.KindCanceled {
			return false, o.errs
		}
	}
	return len(o.errs) > 0, o.errs
}

// syncLog is a log's text, written from the handler's goroutines.
type syncLog struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *syncLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *syncLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// abandonRig is a network of one held fake node over plain http:// (the
// pooled HTTP/1.1 client serves it) whose trace_* calls have a
// method_timeouts entry of 3 minutes, retried up to twice.
type abandonRig struct {
	f    *fakenode.Node
	h    *proxy.Handler
	net  *proxy.Network
	sl   *slots
	seen *outcomes
	log  *syncLog
}

func newAbandonRig(t *testing.T) *abandonRig {
	t.Helper()
	f := newFake(t)
	f.SetResult("trace_block", "[]")
	f.Record("trace_block")
	f.Hold("trace_block")
	f.Hold("eth_call")
	t.Cleanup(func() { f.Release("trace_block"); f.Release("eth_call") }) // before the node closes
	up := healthyNode(f.URL(), "a", time.Millisecond)
	t.Cleanup(up.Close)
	pool := balancer.NewPool(balancer.Rules{NetworkBlockDiff: 5}, []*upstream.Node{up})
	r := &abandonRig{f: f, sl: &slots{pool: pool}, seen: &outcomes{}, log: &syncLog{}}
	r.net = &proxy.Network{Name: "eth", Pool: pool, Sched: r.sl, Health: r.seen, Retries: 2, TryTimeout: 5 * time.Second,
		MethodTimeouts: methodset.NewLongest(map[string]time.Duration{"trace_*": 3 * time.Minute})}
	opts := proxy.Options{MaxBodyBytes: 1 << 20, MaxBatchSize: 10, RequestTimeout: 30 * time.Second, LogRequests: true}
	r.h = proxy.New(opts, []*proxy.Network{r.net}, slog.New(slog.NewTextHandler(r.log, nil)), nil)
	return r
}

const traceBlock = `{"jsonrpc":"2.0","id":1,"method":"trace_block","params":["0x1"]}`

// within polls cond until it holds, failing the test after d.
func within(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	end := time.Now().Add(d)
	for !cond() {
		if time.Now().After(end) {
			t.Fatalf("%s: not within %s", what, d)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// check asserts what a long try cut because its client left leaves: the
// node saw its request end before the call was released, once (nothing
// retried), the slot is back, the node is not blamed, and the request's
// log line says client_gone. served, when not nil, is closed when the
// handler returns; the log line, written last, says so otherwise.
func (r *abandonRig) check(t *testing.T, served <-chan struct{}) {
	t.Helper()
	within(t, 10*time.Second, "the node's held trace_block ended by its request", func() bool { return r.f.GaveUp("trace_block") == 1 })
	if served != nil {
		select {
		case <-served:
		case <-time.After(10 * time.Second):
			t.Fatal("the request still runs 10 s after its client left")
		}
	}
	// The request's line is logged once it has ended (its slot given
	// back, its try judged): the node may see its request cut before.
	within(t, 5*time.Second, "the request's log line", func() bool { return strings.Contains(r.log.String(), "request completed") })
	if got := len(r.f.Arrivals("trace_block")); got != 1 {
		t.Errorf("the node got trace_block %d times, want once: a client that left is not retried for", got)
	}
	if held := r.sl.held.Load(); held != 0 {
		t.Errorf("%d slots still held", held)
	}
	if ok, errs := r.seen.onlyCanceled(); !ok {
		t.Errorf("the node was judged on %v, want only the client's leaving", errs)
	}
	if line := r.log.String(); !strings.Contains(line, "method=trace_block") || !strings.Contains(line, "status=client_gone") {
		t.Errorf("log: %s", line)
	}
}

// A long try (trace_* has a method_timeouts entry) whose client leaves
// while the node works on it, on a connection net/http serves (HTTP/2, a
// TLS client): the request's context ends, and the try is cut at the node
// at once, though the pooled HTTP/1.1 client reaches the node.
func TestLongTryCutWhenClientLeavesNetHTTP(t *testing.T) {
	r := newAbandonRig(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	req := httptest.NewRequestWithContext(ctx, http.MethodPost, "/eth", strings.NewReader(traceBlock))
	req.Header.Set("Content-Type", "application/json")
	served := make(chan struct{})
	go func() {
		defer close(served)
		r.h.ServeHTTP(httptest.NewRecorder(), req)
	}()
	within(t, 10*time.Second, "trace_block at the node", func() bool { return len(r.f.Arrivals("trace_block")) == 1 })
	cancel()
	r.check(t, served)
}

// The same over a client WebSocket, whose calls go through Handler.DoAs
// with the connection's context.
func TestLongTryCutWhenClientLeavesWebSocket(t *testing.T) {
	r := newAbandonRig(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	served := make(chan struct{})
	go func() {
		defer close(served)
		r.h.DoAs(ctx, r.net, []byte(traceBlock), proxy.High, "", "")
	}()
	within(t, 10*time.Second, "trace_block at the node", func() bool { return len(r.f.Arrivals("trace_block")) == 1 })
	cancel()
	r.check(t, served)
}

// serveFast runs the fast server's handler on a 127.0.0.1 listener, as the
// JSON-RPC port does, and returns its address.
func serveFast(t *testing.T, h *proxy.Handler) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &fasthttp.Server{Handler: func(ctx *fasthttp.RequestCtx) {
		if !h.ServeFast(ctx) {
			ctx.SetStatusCode(http.StatusNotFound)
		}
	}}
	done := make(chan struct{})
	go func() { defer close(done); _ = srv.Serve(ln) }()
	t.Cleanup(func() {
		// Bounded: a handler stuck on a held node must not hold the test.
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.ShutdownWithContext(ctx)
		<-done
	})
	return ln.Addr().String()
}

// postRaw sends body as an HTTP/1.1 POST to /eth on a connection of its
// own, which it returns unread.
func postRaw(t *testing.T, addr, body string) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	req := "POST /eth HTTP/1.1\r\nHost: gw\r\nContent-Type: application/json\r\nContent-Length: " +
		strconv.Itoa(len(body)) + "\r\n\r\n" + body
	if _, err := c.Write([]byte(req)); err != nil {
		t.Fatal(err)
	}
	return c
}

// On the fast server (HTTP/1.1 on the JSON-RPC port) a request's context
// does not end when its client leaves: a long try watches the client's
// connection and is cut at the node once the client closed it.
func TestLongTryCutWhenClientLeavesFast(t *testing.T) {
	r := newAbandonRig(t)
	addr := serveFast(t, r.h)
	c := postRaw(t, addr, traceBlock)
	within(t, 10*time.Second, "trace_block at the node", func() bool { return len(r.f.Arrivals("trace_block")) == 1 })
	c.Close()
	r.check(t, nil)
}

// A fast-server client that stays gets its long call's answer: the watch
// does not cut a call whose client is there.
func TestLongTryAnsweredWhenClientStaysFast(t *testing.T) {
	r := newAbandonRig(t)
	addr := serveFast(t, r.h)
	c := postRaw(t, addr, traceBlock)
	within(t, 10*time.Second, "trace_block at the node", func() bool { return len(r.f.Arrivals("trace_block")) == 1 })
	time.Sleep(600 * time.Millisecond) // a few of the watch's looks at the connection
	r.f.Release("trace_block")
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	buf := make([]byte, 4096)
	var got []byte
	for !strings.Contains(string(got), `"result":[]`) {
		n, err := c.Read(buf)
		got = append(got, buf[:n]...)
		if err != nil {
			t.Fatalf("answer %q: %v", got, err)
		}
	}
	if !strings.HasPrefix(string(got), "HTTP/1.1 200") || r.f.GaveUp("trace_block") != 0 {
		t.Fatalf("answer %q, %d held calls given up", got, r.f.GaveUp("trace_block"))
	}
}

// An ordinary call (no method_timeouts entry, rpc_timeout of 5 s) is not
// watched: on the fast server its try runs on after its client left, to
// the node's answer, as before.
func TestShortTryNotWatchedFast(t *testing.T) {
	r := newAbandonRig(t)
	addr := serveFast(t, r.h)
	c := postRaw(t, addr, `{"jsonrpc":"2.0","id":1,"method":"eth_call","params":[{"to":"0x01"},"latest"]}`)
	within(t, 10*time.Second, "eth_call at the node", func() bool { return r.f.Requests() >= 1 })
	c.Close()
	time.Sleep(time.Second) // four of a watch's looks, had there been one
	if got := r.f.GaveUp("eth_call"); got != 0 {
		t.Fatalf("a short try was cut at the node (%d)", got)
	}
	r.f.Release("eth_call")
	within(t, 10*time.Second, "the request's log line", func() bool { return strings.Contains(r.log.String(), "request completed") })
}
