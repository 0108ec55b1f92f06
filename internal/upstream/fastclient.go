package upstream

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"syscall"
	"time"

	"github.com/valyala/fasthttp"
)

// fastClient sends a node's calls over plain HTTP/1.1: fasthttp writes the
// request and parses the answer's head, a pool of the node's connections
// carries them, the try's deadline is the socket's deadline, and no
// goroutine runs per call or per connection. It serves http:// nodes
// without gzip and without a proxy from the environment; net/http serves
// the rest.
type fastClient struct {
	pool    *connPool
	target  string      // the request line's path and query
	host    string      // the Host header: the node's override or the URL's host
	headers [][2]string // sent on every call, in order
	timeout time.Duration
}

// userAgent is what net/http sends, so a node sees the same request from
// either client.
const userAgent = "Go-http-client/1.1"

// newFastClient returns nil when the node needs net/http.
func newFastClient(spec Spec) *fastClient {
	u, err := url.Parse(spec.URL)
	if err != nil || u.Scheme != "http" || u.Host == "" || spec.Gzip || spec.Transport != nil || usesProxy(spec.URL) {
		return nil
	}
	addr := u.Host
	if u.Port() == "" {
		addr = net.JoinHostPort(u.Hostname(), "80")
	}
	conns := spec.MaxConcurrency
	if conns <= 0 {
		conns = 256
	}
	f := &fastClient{timeout: spec.Timeout, host: u.Host, target: u.RequestURI(),
		pool: newConnPool(addr, conns, dialTimeoutOf(spec), 90*time.Second)}
	if h := spec.Headers.Get("Host"); h != "" {
		f.host = h // a provider behind a rewrite that routes on Host
	}
	auth := ""
	if u.User != nil {
		pass, _ := u.User.Password()
		auth = "Basic " + base64.StdEncoding.EncodeToString([]byte(u.User.Username()+":"+pass))
	}
	f.headers = fastHeaders(spec.Headers, auth)
	return f
}

// fastHeaders lists the headers of every call as net/http would send them:
// JSON content type and accept, the node's own headers over them, and basic
// auth from the URL unless the node sets Authorization.
func fastHeaders(h http.Header, auth string) [][2]string {
	out := [][2]string{{"Content-Type", "application/json"}, {"Accept", "application/json"}}
	for k, vs := range h {
		if strings.EqualFold(k, "Host") {
			continue
		}
		k = http.CanonicalHeaderKey(k)
		out = deleteHeader(out, k)
		for _, v := range vs {
			out = append(out, [2]string{k, v})
		}
	}
	if auth != "" && h.Get("Authorization") == "" {
		out = append(out, [2]string{"Authorization", auth})
	}
	return out
}

func deleteHeader(hs [][2]string, k string) [][2]string {
	out := hs[:0]
	for _, h := range hs {
		if h[0] != k {
			out = append(out, h)
		}
	}
	return out
}

func usesProxy(rawURL string) bool {
	req, err := http.NewRequest(http.MethodPost, rawURL, nil)
	if err != nil {
		return true
	}
	p, err := http.ProxyFromEnvironment(req)
	return err != nil || p != nil
}

func (f *fastClient) do(ctx context.Context, node string, body []byte) (*Response, error) {
	if err := ctx.Err(); err != nil {
		return nil, classify(ctx, node, err)
	}
	deadline, ok := ctx.Deadline()
	if !ok && f.timeout > 0 {
		// Cancellation is seen only before sending and after the answer's
		// head: without a deadline the node's try timeout bounds the wait.
		deadline = time.Now().Add(f.timeout)
	}
	req := fasthttp.AcquireRequest()
	defer fasthttp.ReleaseRequest(req)
	f.prepare(req, body)
	if th := traceOf(ctx); th != nil {
		req.Header.Set("traceparent", th.parent)
		if th.state != "" {
			req.Header.Set("tracestate", th.state)
		}
	}
	resp := fasthttp.AcquireResponse()
	resp.StreamBody = true
	marks, _ := marksOf(ctx)
	watch := marks&markInterrupt != 0
	pc, stop, err := f.roundTrip(ctx, watch, connKind(ctx), req, resp, deadline)
	if err != nil {
		fasthttp.ReleaseResponse(resp)
		return nil, classifyFast(ctx, node, deadline, err)
	}
	r := newFastResponse(resp, f.pool, pc)
	r.stop = stop
	if err := ctx.Err(); err != nil {
		r.Close()
		return nil, classify(ctx, node, err)
	}
	if status := resp.StatusCode(); status != http.StatusOK {
		snippet, _ := io.ReadAll(io.LimitReader(r.Body, 512))
		retryAfter := string(resp.Header.Peek("Retry-After")) // before Close releases resp
		r.Close()
		return nil, statusError(node, status, snippet, retryAfter)
	}
	return r, nil
}

func (f *fastClient) prepare(req *fasthttp.Request, body []byte) {
	req.Header.SetMethod(fasthttp.MethodPost)
	req.Header.SetRequestURI(f.target)
	req.Header.SetHost(f.host)
	req.Header.SetUserAgent(userAgent)
	for _, h := range f.headers {
		req.Header.Add(h[0], h[1])
	}
	req.SetBodyRaw(body)
}

// roundTrip sends req on a pooled connection and reads the answer's head.
// A kept-alive connection that the node closed while it was idle fails
// before any answer byte; the call then goes once more on a new one (the
// node never saw it).
// With watch, a cancellation of ctx cuts the connection (its deadline is
// moved to the past) until the returned stop is called. A probe takes a
// connection apart from the calls' (see connPool).
func (f *fastClient) roundTrip(ctx context.Context, watch bool, kind int, req *fasthttp.Request, resp *fasthttp.Response, deadline time.Time) (*pconn, func() bool, error) {
	fresh := false
	for {
		pc, err := f.pool.get(deadline, fresh, kind)
		if err != nil {
			return nil, nil, err
		}
		err = pc.setDeadline(deadline)
		if kind == connCall && f.pool.cut.Load() {
			// The pool was interrupted while this call took its connection.
			_ = pc.c.SetDeadline(pastDeadline)
		}
		var stop func() bool
		if watch {
			// After the deadline is set, so a cancellation always wins.
			stop = context.AfterFunc(ctx, func() { _ = pc.c.SetDeadline(pastDeadline) })
		}
		pc.send.begin(pc.lastUse)
		if err == nil {
			err = req.Write(pc.bw)
		}
		if err == nil {
			pc.send.arm()
			err = pc.bw.Flush()
		}
		// A node may answer before it has read the whole request (413 for a
		// body over its limit) and close the connection, failing the rest of
		// the write: its answer is what counts, as net/http does.
		rerr := resp.ReadLimitBody(pc.br, 0)
		if rerr == nil {
			if err != nil {
				resp.SetConnectionClose()
			}
			return pc, stop, nil
		}
		if err == nil {
			err = rerr
		}
		if stop != nil {
			stop()
		}
		resp.CloseBodyStream()
		f.pool.put(pc, false)
		if !pc.reused || fresh || !stale(err) || ctx.Err() != nil {
			return nil, nil, err
		}
		fresh = true
	}
}

// stale reports whether err is what a connection closed by the other side
// gives before any answer byte.
func stale(err error) bool {
	return errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, syscall.EPIPE) || errors.Is(err, syscall.ECONNRESET)
}

func statusError(node string, status int, snippet []byte, retryAfter string) error {
	kind := KindStatus
	var wait time.Duration
	switch status {
	case http.StatusTooManyRequests:
		kind, wait = KindRateLimited, RetryAfter(retryAfter)
	case http.StatusRequestEntityTooLarge:
		kind = KindRequestTooLarge
	}
	return &Error{Kind: kind, Node: node, Status: status, Err: fmt.Errorf("http %d: %s", status, bytes.TrimSpace(snippet)), RetryAfter: wait}
}

// classifyFast maps the pooled client's errors to the kinds net/http's
// get: dial errors are *net.OpError from the dialer, deadlines show as
// os.ErrDeadlineExceeded or as the deadline having passed.
func classifyFast(ctx context.Context, node string, deadline time.Time, err error) error {
	switch {
	case ctx.Err() == context.Canceled && !errors.Is(context.Cause(ctx), ErrTryTimeout):
		return &Error{Kind: KindCanceled, Node: node, Err: err}
	case errors.Is(err, os.ErrDeadlineExceeded) || errors.Is(err, errNoConn) ||
		!deadline.IsZero() && !time.Now().Before(deadline):
		return &Error{Kind: KindTimeout, Node: node, Err: context.DeadlineExceeded}
	}
	return classify(ctx, node, err)
}
