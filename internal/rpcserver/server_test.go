package rpcserver_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/evmgate/evmgate/internal/freeport"
	"github.com/evmgate/evmgate/internal/rpcserver"
)

// wait bounds every blocking step of a test; it is far above what any
// step takes on a busy machine and only turns a hang into a failure.
const wait = 60 * time.Second

// fixture is a server listening on 127.0.0.1.
type fixture struct {
	addr      string
	srv       *rpcserver.Server
	served    chan struct{} // closed when Serve returns
	serveErr  error
	fastCalls atomic.Int32 // requests the fast func was called for
	errs      chan error   // what Options.Error was called with
	stopOnce  sync.Once
}

func options() rpcserver.Options {
	return rpcserver.Options{
		ReadHeaderTimeout: wait,
		ReadTimeout:       wait,
		WriteTimeout:      wait,
		IdleTimeout:       wait,
		MaxHeaderBytes:    8 << 10,
		MaxBodyBytes:      func() int { return 4 << 20 },
	}
}

// start serves fast and h on a new listener, with o; o.Error, when unset,
// answers as answerError does.
func start(t *testing.T, fast rpcserver.Fast, h http.Handler, o rpcserver.Options) *fixture {
	t.Helper()
	// A port below the kernel's ephemeral range: once the server stops,
	// no other test's listener or dial is given it (a dial given its own
	// destination as source port connects to itself), so the shutdown
	// tests' dials find nothing there.
	port, err := freeport.Pick()
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(port))
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{addr: ln.Addr().String(), served: make(chan struct{}), errs: make(chan error, 16)}
	if o.Error == nil {
		o.Error = func(ctx *fasthttp.RequestCtx, err error) {
			select {
			case f.errs <- err:
			default:
			}
			answerError(ctx, err)
		}
	}
	counted := func(ctx *fasthttp.RequestCtx) bool {
		f.fastCalls.Add(1)
		return fast(ctx)
	}
	f.srv = rpcserver.New(counted, &http.Server{Handler: h}, o)
	go func() {
		defer close(f.served)
		f.serveErr = f.srv.Serve(ln)
	}()
	t.Cleanup(func() { f.stop(t) })
	return f
}

// stop shuts the server down, once, and checks how Serve ended.
func (f *fixture) stop(t *testing.T) {
	t.Helper()
	f.stopOnce.Do(func() {
		if err := <-f.shutdown(); err != nil {
			t.Errorf("Shutdown: %v", err)
		}
		f.wantServeEnded(t)
	})
}

// shutdown starts Shutdown, bounded by wait, and returns what it will
// return.
func (f *fixture) shutdown() <-chan error {
	shut := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), wait)
		defer cancel()
		shut <- f.srv.Shutdown(ctx)
	}()
	return shut
}

// wantServeEnded waits for Serve to return and checks what it returned.
func (f *fixture) wantServeEnded(t *testing.T) {
	t.Helper()
	<-f.served
	if !errors.Is(f.serveErr, http.ErrServerClosed) {
		t.Errorf("Serve returned %v, want http.ErrServerClosed", f.serveErr)
	}
}

// answerError answers as the gateway does: 413 for a body over the limit,
// 431 for a header over it, 400 otherwise.
func answerError(ctx *fasthttp.RequestCtx, err error) {
	status := http.StatusBadRequest
	var small *fasthttp.ErrSmallBuffer
	switch {
	case errors.Is(err, fasthttp.ErrBodyTooLarge):
		status = http.StatusRequestEntityTooLarge
	case errors.As(err, &small):
		status = http.StatusRequestHeaderFieldsTooLarge
	}
	ctx.Response.Reset()
	ctx.SetStatusCode(status)
	ctx.SetBodyString("refused: " + http.StatusText(status))
	ctx.SetConnectionClose()
}

// fastOnly serves /fast on the fast path and declines everything else.
func fastOnly(ctx *fasthttp.RequestCtx) bool {
	if string(ctx.Path()) != "/fast" {
		return false
	}
	ctx.Response.Header.Set("X-Served-By", "fast")
	ctx.SetBodyString(fmt.Sprintf("fast %s %d %s", ctx.Method(), len(ctx.PostBody()), digest(ctx.PostBody())))
	return true
}

// seen is what echo saw of a request.
type seen struct {
	Method, Path, Query, Host string
	Header                    http.Header
	Len                       int
	Digest                    string
	Proto                     int
}

// echo answers, from net/http's server, with what it saw of the request.
func echo(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	w.Header().Set("X-Served-By", "std")
	_ = json.NewEncoder(w).Encode(seen{
		Method: r.Method, Path: r.URL.Path, Query: r.URL.RawQuery, Host: r.Host, Header: r.Header,
		Len: len(body), Digest: digest(body), Proto: r.ProtoMajor,
	})
}

func digest(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:8])
}

func randomBytes(t *testing.T, n int) []byte {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return b
}

// conn is one client connection, read and written by hand.
type conn struct {
	t  *testing.T
	c  net.Conn
	br *bufio.Reader
}

func dial(t *testing.T, addr string) *conn {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, wait)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	if err := c.SetDeadline(time.Now().Add(wait)); err != nil {
		t.Fatal(err)
	}
	return &conn{t: t, c: c, br: bufio.NewReader(c)}
}

// do writes req on the connection and reads its answer.
func (c *conn) do(req *http.Request) (*http.Response, []byte) {
	c.t.Helper()
	if err := req.Write(c.c); err != nil {
		c.t.Fatalf("%s %s: write: %v", req.Method, req.URL, err)
	}
	return c.read(req)
}

func (c *conn) read(req *http.Request) (*http.Response, []byte) {
	c.t.Helper()
	resp, err := http.ReadResponse(c.br, req)
	if err != nil {
		c.t.Fatalf("%s %s: read answer: %v", req.Method, req.URL, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		c.t.Fatalf("%s %s: read body: %v", req.Method, req.URL, err)
	}
	return resp, body
}

// std writes req and checks that echo answered it.
func (c *conn) std(req *http.Request) seen {
	c.t.Helper()
	resp, got := c.do(req)
	return wantStd(c.t, resp, got)
}

// readStd reads the answer to req and checks that echo wrote it.
func (c *conn) readStd(req *http.Request) seen {
	c.t.Helper()
	resp, got := c.read(req)
	return wantStd(c.t, resp, got)
}

func newRequest(t *testing.T, method, url string, body []byte) *http.Request {
	t.Helper()
	var r io.Reader
	if body != nil {
		r = bytes.NewReader(body)
	}
	req, err := http.NewRequest(method, url, r)
	if err != nil {
		t.Fatal(err)
	}
	return req
}

// wantFast checks an answer of fastOnly to a request with body.
func wantFast(t *testing.T, resp *http.Response, got []byte, method string, body []byte) {
	t.Helper()
	want := fmt.Sprintf("fast %s %d %s", method, len(body), digest(body))
	if resp.StatusCode != http.StatusOK || resp.Header.Get("X-Served-By") != "fast" || string(got) != want {
		t.Fatalf("answer %d by %q: %q, want 200 by \"fast\": %q", resp.StatusCode, resp.Header.Get("X-Served-By"), got, want)
	}
}

// wantStd checks an answer of echo and returns what it saw.
func wantStd(t *testing.T, resp *http.Response, got []byte) seen {
	t.Helper()
	if resp.StatusCode != http.StatusOK || resp.Header.Get("X-Served-By") != "std" {
		t.Fatalf("answer %d by %q: %q, want 200 by \"std\"", resp.StatusCode, resp.Header.Get("X-Served-By"), got)
	}
	var s seen
	if err := json.Unmarshal(got, &s); err != nil {
		t.Fatalf("answer %q: %v", got, err)
	}
	return s
}

func wantBody(t *testing.T, s seen, method string, body []byte) {
	t.Helper()
	if s.Method != method || s.Len != len(body) || s.Digest != digest(body) {
		t.Fatalf("net/http saw %s with %d bytes (%s), want %s with %d bytes (%s)",
			s.Method, s.Len, s.Digest, method, len(body), digest(body))
	}
}

// A request the fast func accepts is answered by it; one it declines is
// served by net/http as sent; and net/http then serves the connection's
// next requests, whatever they are.
func TestFastThenHandOverOnOneConnection(t *testing.T) {
	f := start(t, fastOnly, http.HandlerFunc(echo), options())
	base := "http://" + f.addr
	c := dial(t, f.addr)

	small := []byte(`{"jsonrpc":"2.0","id":1,"method":"eth_chainId"}`)
	resp, got := c.do(newRequest(t, http.MethodPost, base+"/fast", small))
	wantFast(t, resp, got, http.MethodPost, small)
	resp, got = c.do(newRequest(t, http.MethodPost, base+"/fast", small))
	wantFast(t, resp, got, http.MethodPost, small)

	req := newRequest(t, http.MethodGet, base+"/some/page?a=1&b=two%20words&a=3", nil)
	req.Header.Set("X-Test", "one")
	req.Header.Add("X-Test", "two")
	req.Header.Set("Authorization", "Bearer secret")
	s := c.std(req)
	if s.Method != http.MethodGet || s.Path != "/some/page" || s.Query != "a=1&b=two%20words&a=3" || s.Host != f.addr {
		t.Errorf("net/http saw %s %s?%s host %s", s.Method, s.Path, s.Query, s.Host)
	}
	if v := s.Header.Values("X-Test"); len(v) != 2 || v[0] != "one" || v[1] != "two" {
		t.Errorf("net/http saw X-Test %q, want [one two]", v)
	}
	if v := s.Header.Get("Authorization"); v != "Bearer secret" {
		t.Errorf("net/http saw Authorization %q", v)
	}

	// The connection is net/http's now: a request fast would take goes
	// there too.
	wantBody(t, c.std(newRequest(t, http.MethodPost, base+"/fast", small)), http.MethodPost, small)
	s = c.std(newRequest(t, http.MethodGet, base+"/again?x=y", nil))
	if s.Path != "/again" || s.Query != "x=y" {
		t.Errorf("net/http saw %s?%s", s.Path, s.Query)
	}
	if n := f.fastCalls.Load(); n != 3 {
		t.Errorf("fast was called for %d requests, want 3", n)
	}
}

// A POST the fast func declines reaches net/http with all its body, sent
// with a length or in chunks, and net/http serves the connection's next
// request.
func TestDeclinedPostKeepsBody(t *testing.T) {
	f := start(t, fastOnly, http.HandlerFunc(echo), options())
	base := "http://" + f.addr
	for _, n := range []int{0, 1, 300 << 10, 3 << 20} {
		for _, chunked := range []bool{false, true} {
			t.Run(fmt.Sprintf("%d bytes chunked %v", n, chunked), func(t *testing.T) {
				body := randomBytes(t, n)
				c := dial(t, f.addr)
				req := newRequest(t, http.MethodPost, base+"/other", body)
				if chunked {
					req.ContentLength = -1
					req.TransferEncoding = []string{"chunked"}
				}
				wantBody(t, c.std(req), http.MethodPost, body)
				next := randomBytes(t, 1000)
				wantBody(t, c.std(newRequest(t, http.MethodPut, base+"/next", next)), http.MethodPut, next)
			})
		}
	}
}

// A client that waits for 100 Continue gets it once, and its body
// reaches net/http.
func TestDeclinedPostExpectContinue(t *testing.T) {
	f := start(t, fastOnly, http.HandlerFunc(echo), options())
	var reused []bool
	trace := &httptrace.ClientTrace{GotConn: func(i httptrace.GotConnInfo) { reused = append(reused, i.Reused) }}
	client := &http.Client{Transport: &http.Transport{ExpectContinueTimeout: wait, MaxConnsPerHost: 1}}
	defer client.CloseIdleConnections()
	for i := range 3 {
		body := randomBytes(t, 200<<10)
		req := newRequest(t, http.MethodPost, "http://"+f.addr+"/other", body)
		req.Header.Set("Expect", "100-continue")
		req = req.WithContext(httptrace.WithClientTrace(context.Background(), trace))
		resp, err := client.Do(req)
		if err != nil {
			t.Fatalf("request %d: %v", i, err)
		}
		got, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			t.Fatal(err)
		}
		wantBody(t, wantStd(t, resp, got), http.MethodPost, body)
	}
	if len(reused) != 3 || reused[0] || !reused[1] || !reused[2] {
		t.Errorf("connection reused: %v, want [false true true]", reused)
	}
}

// Requests written one after another without waiting for answers are
// all answered, in order, across the hand-over.
func TestPipelinedAcrossHandOver(t *testing.T) {
	f := start(t, fastOnly, http.HandlerFunc(echo), options())
	base := "http://" + f.addr
	c := dial(t, f.addr)
	body := []byte(`{"id":1}`)
	reqs := []*http.Request{
		newRequest(t, http.MethodPost, base+"/fast", body),
		newRequest(t, http.MethodGet, base+"/first", nil),
		newRequest(t, http.MethodPost, base+"/fast", body),
		newRequest(t, http.MethodGet, base+"/last", nil),
	}
	var out bytes.Buffer
	for _, r := range reqs {
		if err := r.Write(&out); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := c.c.Write(out.Bytes()); err != nil {
		t.Fatal(err)
	}
	resp, got := c.read(reqs[0])
	wantFast(t, resp, got, http.MethodPost, body)
	if s := c.readStd(reqs[1]); s.Path != "/first" {
		t.Errorf("second answer is for %s", s.Path)
	}
	wantBody(t, c.readStd(reqs[2]), http.MethodPost, body)
	if s := c.readStd(reqs[3]); s.Path != "/last" {
		t.Errorf("fourth answer is for %s", s.Path)
	}
}

// A body over the limit gets the answer Options.Error writes, read by an
// ordinary client that is still sending the body, not a reset; the limit
// is read again for every request.
func TestBodyOverLimit(t *testing.T) {
	var limit atomic.Int64
	limit.Store(1 << 20)
	o := options()
	o.MaxBodyBytes = func() int { return int(limit.Load()) }
	f := start(t, fastOnly, http.HandlerFunc(echo), o)
	body := randomBytes(t, 3<<20)
	for _, path := range []string{"/fast", "/other"} {
		for _, chunked := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s chunked %v", path, chunked), func(t *testing.T) {
				client := &http.Client{Transport: &http.Transport{}}
				defer client.CloseIdleConnections()
				req := newRequest(t, http.MethodPost, "http://"+f.addr+path, body)
				if chunked {
					req.Body = io.NopCloser(struct{ io.Reader }{bytes.NewReader(body)})
					req.ContentLength = -1
				}
				resp, err := client.Do(req)
				if err != nil {
					t.Fatalf("want an answer, got %v", err)
				}
				got, err := io.ReadAll(resp.Body)
				resp.Body.Close()
				if err != nil {
					t.Fatalf("reading the answer: %v", err)
				}
				if resp.StatusCode != http.StatusRequestEntityTooLarge || string(got) != "refused: Request Entity Too Large" {
					t.Fatalf("answer %d %q, want 413 from Options.Error", resp.StatusCode, got)
				}
				select {
				case err := <-f.errs:
					if !errors.Is(err, fasthttp.ErrBodyTooLarge) {
						t.Errorf("Options.Error got %v, want fasthttp.ErrBodyTooLarge", err)
					}
				default:
					t.Error("Options.Error was not called")
				}
			})
		}
	}
	if n := f.fastCalls.Load(); n != 0 {
		t.Errorf("fast was called for %d requests over the limit", n)
	}

	limit.Store(4 << 20)
	resp, err := http.Post("http://"+f.addr+"/fast", "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	wantFast(t, resp, got, http.MethodPost, body)
}

// A header over MaxHeaderBytes gets Options.Error called with an error
// it can tell apart, and the answer it chose.
func TestHeaderOverLimit(t *testing.T) {
	o := options()
	o.MaxHeaderBytes = 4 << 10
	f := start(t, fastOnly, http.HandlerFunc(echo), o)
	for _, path := range []string{"/fast", "/other"} {
		req := newRequest(t, http.MethodPost, "http://"+f.addr+path, []byte("{}"))
		req.Header.Set("X-Big", strings.Repeat("a", 8<<10))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatalf("%s: want an answer, got %v", path, err)
		}
		got, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			t.Fatal(err)
		}
		if resp.StatusCode != http.StatusRequestHeaderFieldsTooLarge {
			t.Fatalf("%s: answer %d %q, want 431", path, resp.StatusCode, got)
		}
		var small *fasthttp.ErrSmallBuffer
		if err := <-f.errs; !errors.As(err, &small) {
			t.Errorf("Options.Error got %v, want *fasthttp.ErrSmallBuffer", err)
		}
	}

	// A header within the limit still reaches both servers.
	c := dial(t, f.addr)
	req := newRequest(t, http.MethodGet, "http://"+f.addr+"/other", nil)
	req.Header.Set("X-Big", strings.Repeat("a", 3<<10))
	if s := c.std(req); len(s.Header.Get("X-Big")) != 3<<10 {
		t.Errorf("net/http saw X-Big of %d bytes", len(s.Header.Get("X-Big")))
	}
	if n := f.fastCalls.Load(); n != 1 {
		t.Errorf("fast was called for %d requests, want 1", n)
	}
}

func TestShutdownWaitsForRequestsInFlight(t *testing.T) {
	entered := make(chan string, 2)
	release := make(chan struct{})
	fast := func(ctx *fasthttp.RequestCtx) bool {
		if string(ctx.Path()) != "/slow" {
			return fastOnly(ctx)
		}
		entered <- "fast"
		<-release
		ctx.SetBodyString("fast done")
		return true
	}
	std := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/slow-std" {
			echo(w, r)
			return
		}
		entered <- "std"
		<-release
		_, _ = io.WriteString(w, "std done")
	})
	f := start(t, fast, std, options())
	base := "http://" + f.addr

	type answer struct {
		status int
		body   string
	}
	answers := make(chan answer, 2)
	for _, path := range []string{"/slow", "/slow-std"} {
		c := dial(t, f.addr)
		req := newRequest(t, http.MethodPost, base+path, []byte("{}"))
		if err := req.Write(c.c); err != nil {
			t.Fatal(err)
		}
		go func() {
			resp, err := http.ReadResponse(c.br, req)
			if err != nil {
				answers <- answer{body: err.Error()}
				return
			}
			b, err := io.ReadAll(resp.Body)
			if err != nil {
				b = []byte(err.Error())
			}
			answers <- answer{resp.StatusCode, string(b)}
		}()
	}
	in := map[string]bool{<-entered: true, <-entered: true}
	if !in["fast"] || !in["std"] {
		t.Fatalf("requests in flight on %v, want both servers", in)
	}
	// An idle connection, on each server, does not hold Shutdown up.
	idleFast, idleStd := dial(t, f.addr), dial(t, f.addr)
	resp, got := idleFast.do(newRequest(t, http.MethodPost, base+"/fast", nil))
	wantFast(t, resp, got, http.MethodPost, nil)
	idleStd.std(newRequest(t, http.MethodGet, base+"/page", nil))

	shut := f.shutdown()
	// Serve returns once the listener is closed.
	f.wantServeEnded(t)
	if accepts(f.addr) {
		t.Error("a new connection was accepted while shutting down")
	}
	select {
	case err := <-shut:
		t.Fatalf("Shutdown returned %v with requests in flight", err)
	default:
	}
	close(release)
	for range 2 {
		a := <-answers
		if a.status != http.StatusOK || !strings.HasSuffix(a.body, " done") {
			t.Errorf("request in flight got %d %q", a.status, a.body)
		}
	}
	if err := <-shut; err != nil {
		t.Errorf("Shutdown: %v", err)
	}
	if accepts(f.addr) {
		t.Error("a new connection was accepted after Shutdown")
	}
}

// A request the fast server read before Shutdown and declines after it
// began is still served by net/http, not dropped with its connection.
func TestShutdownServesRequestDeclinedLate(t *testing.T) {
	entered := make(chan struct{})
	release := make(chan struct{})
	fast := func(ctx *fasthttp.RequestCtx) bool {
		if string(ctx.Path()) == "/decline-late" {
			close(entered)
			<-release
			return false
		}
		return fastOnly(ctx)
	}
	f := start(t, fast, http.HandlerFunc(echo), options())
	c := dial(t, f.addr)
	body := randomBytes(t, 10<<10)
	req := newRequest(t, http.MethodPost, "http://"+f.addr+"/decline-late", body)
	if err := req.Write(c.c); err != nil {
		t.Fatal(err)
	}
	<-entered
	shut := f.shutdown()
	f.wantServeEnded(t)
	close(release)
	wantBody(t, c.readStd(req), http.MethodPost, body)
	if err := <-shut; err != nil {
		t.Errorf("Shutdown: %v", err)
	}
}

// TestBodyOverLimitAfterAPipelinedAnswer: a pipelining client's call with a
// body over the limit, sent behind a call whose answer still waits in the
// server's buffer, gets its 413 after that answer, not in its place.
func TestBodyOverLimitAfterAPipelinedAnswer(t *testing.T) {
	o := options()
	o.MaxBodyBytes = func() int { return 1 << 20 }
	f := start(t, fastOnly, http.HandlerFunc(echo), o)
	c, err := net.Dial("tcp", f.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(wait))
	head := "POST /fast HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n"
	if _, err := fmt.Fprintf(c, head+"{}"+head, 2, 2<<20); err != nil { // one write: both requests' heads
		t.Fatal(err)
	}
	go func() { _, _ = c.Write(make([]byte, 2<<20)) }() // the body over the limit, until the server closes
	br := bufio.NewReader(c)
	for i, want := range []int{http.StatusOK, http.StatusRequestEntityTooLarge} {
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatalf("answer %d: %v", i, err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != want {
			t.Fatalf("answer %d: %d %q, want %d", i, resp.StatusCode, b, want)
		}
	}
}

// A header much larger than the limit: the client is still writing it when
// the server answers, and it finishes writing and reads the 431 instead of
// meeting a reset (the server reads and drops the rest for a while, as
// net/http's server does).
func TestHeaderFarOverLimitIsAnswered(t *testing.T) {
	o := options()
	o.MaxHeaderBytes = 4 << 10
	f := start(t, fastOnly, http.HandlerFunc(echo), o)
	for i := range 5 {
		c, err := net.Dial("tcp", f.addr)
		if err != nil {
			t.Fatal(err)
		}
		head := "POST /fast HTTP/1.1\r\nHost: x\r\nX-Big: " + strings.Repeat("a", 8<<20) + "\r\nContent-Length: 2\r\n\r\n{}"
		wrote := make(chan error, 1)
		go func() { _, err := c.Write([]byte(head)); wrote <- err }()
		_ = c.SetReadDeadline(time.Now().Add(30 * time.Second))
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			c.Close()
			t.Fatalf("request %d: the answer was lost: %v", i+1, err)
		}
		resp.Body.Close()
		// A client such as net/http's writes the whole request before it
		// reads: a reset while it writes loses the answer for it.
		if err := <-wrote; err != nil {
			t.Fatalf("request %d: writing the request: %v", i+1, err)
		}
		c.Close()
		if resp.StatusCode != http.StatusRequestHeaderFieldsTooLarge {
			t.Fatalf("request %d: %d, want 431", i+1, resp.StatusCode)
		}
		<-f.errs
	}
}

// TestLongAnswersArriveWhole: answers around and over the write buffer's
// size (4096), each size in turn on one kept-alive connection and then
// pipelined, HEAD among them, arrive whole and in order.
func TestLongAnswersArriveWhole(t *testing.T) {
	body := func(n int) []byte { return bytes.Repeat([]byte("0123456789abcdef"), n/16+1)[:n] }
	fast := func(ctx *fasthttp.RequestCtx) bool {
		n, err := strconv.Atoi(string(ctx.QueryArgs().Peek("n")))
		if err != nil {
			return false
		}
		ctx.SetBody(body(n))
		return true
	}
	f := start(t, fast, http.HandlerFunc(echo), options())
	defer f.stop(t)
	var sizes []int
	for _, around := range []int{4096, 8192, 3 * 4096} {
		for n := around - 160; n <= around+40; n++ {
			sizes = append(sizes, n)
		}
	}
	sizes = append(sizes, 100_000, 1<<20)
	c := dial(t, f.addr)
	for _, n := range sizes {
		req := newRequest(t, http.MethodGet, fmt.Sprintf("http://%s/fast?n=%d", f.addr, n), nil)
		if resp, got := c.do(req); resp.StatusCode != http.StatusOK || !bytes.Equal(got, body(n)) {
			t.Fatalf("n=%d: %d, %d bytes", n, resp.StatusCode, len(got))
		}
	}
	// Pipelined: every request written at once, then every answer read.
	var reqs []*http.Request
	var out bytes.Buffer
	for i, n := range sizes {
		method := http.MethodGet
		if i%7 == 3 {
			method = http.MethodHead
		}
		req := newRequest(t, method, fmt.Sprintf("http://%s/fast?n=%d", f.addr, n), nil)
		if err := req.Write(&out); err != nil {
			t.Fatal(err)
		}
		reqs = append(reqs, req)
	}
	p := dial(t, f.addr)
	go func() { _, _ = p.c.Write(out.Bytes()) }() // answers are read meanwhile
	for i, req := range reqs {
		resp, got := p.read(req)
		want := body(sizes[i])
		if req.Method == http.MethodHead {
			want = nil
		}
		if resp.StatusCode != http.StatusOK || !bytes.Equal(got, want) {
			t.Fatalf("pipelined %s n=%d: %d, %d bytes", req.Method, sizes[i], resp.StatusCode, len(got))
		}
	}
}

// TestMultipartBodyReachesTheHandler: a body sent as multipart/form-data,
// well-formed or not, reaches the handler as the bytes sent: the server
// does not parse it as a form first (a malformed one got the server's own
// plain-text 400).
func TestMultipartBodyReachesTheHandler(t *testing.T) {
	f := start(t, fastOnly, http.HandlerFunc(echo), options())
	defer f.stop(t)
	c := dial(t, f.addr)
	for _, body := range []string{
		"--x\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\n{}\r\n--x--\r\n",
		"--x\r\nnot a part",
	} {
		req := newRequest(t, http.MethodPost, "http://"+f.addr+"/fast", []byte(body))
		req.Header.Set("Content-Type", "multipart/form-data; boundary=x")
		resp, got := c.do(req)
		want := fmt.Sprintf("fast POST %d %s", len(body), digest([]byte(body)))
		if resp.StatusCode != http.StatusOK || string(got) != want {
			t.Fatalf("%q: %d %q, want the handler's %q", body, resp.StatusCode, got, want)
		}
	}
}

// accepts reports whether something listens at addr.
func accepts(addr string) bool {
	c, err := net.DialTimeout("tcp", addr, wait)
	if err != nil {
		return false
	}
	c.Close()
	return true
}
