package proxy

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
	"unsafe"

	"github.com/evmgate/evmgate/internal/access"
	"github.com/evmgate/evmgate/internal/sched"
	"github.com/valyala/fasthttp"
)

// ServeFast serves a JSON-RPC POST, or a CORS preflight, that fasthttp's
// server read (see internal/rpcserver). It reports false, having written
// nothing, for the requests net/http serves: other methods and paths that
// are not a network's own.
//
// The answer is the same as ServeHTTP's; one thing differs: a client that
// closes its connection is noticed before a late try (peerLeft), and while
// a long try runs (tryWatched), not while a short one does, which then
// ends within its try timeout.
func (h *Handler) ServeFast(ctx *fasthttp.RequestCtx) bool {
	if !ctx.IsPost() {
		return ctx.IsOptions() && h.preflightFast(ctx)
	}
	start := time.Now()
	net, _, alias, pathKey := h.route(b2s(ctx.Path()))
	if net == nil {
		return false
	}
	opts := h.options()
	w := getFastWriter(ctx)
	defer putFastWriter(w)
	w.gzipMin = opts.gzipMin()
	req := fastRequest{ctx}
	var caller *access.Caller
	if a := h.access.Load(); a != nil {
		c, e := a.IdentifyRequest(req, net.Name, pathKey)
		a.AllowOriginOf(w, req.Get("Origin"), net.Name, c)
		if !refuse(w, e) {
			return true
		}
		caller = c
	}
	if refuseSimpleBrowserPost(w, req.Get("Origin"), req.Get("Content-Type")) {
		return true
	}
	ex := exchange{h: h, net: net, w: w, start: start, class: caller.Class(req), caller: caller, peer: ctx.Conn()}
	if net.Consistent != nil {
		ex.client = ClientOf(req, caller.Name())
	}
	if h.tracer != nil {
		ex.startSpan(fastCarrier{ctx})
	}
	ex.begin(alias, strings.Clone(req.Get("X-Request-Id")))
	body, err := ctx.PostBody(), error(nil)
	if int64(len(body)) > opts.MaxBodyBytes {
		err = errTooLarge
	}
	ex.run(h.parentOf(ctx.Conn()), body, err)
	w.finish()
	return true
}

// preflightFast answers a browser's CORS preflight, as ServeHTTP does,
// when access checks answer it (a connection that sends preflights stays
// on the fast server); false, having written nothing, otherwise.
func (h *Handler) preflightFast(ctx *fasthttp.RequestCtx) bool {
	a := h.access.Load()
	if a == nil {
		return false
	}
	net, _, _, pathKey := h.route(b2s(ctx.Path()))
	if net == nil {
		return false
	}
	w := getFastWriter(ctx)
	defer putFastWriter(w)
	w.gzipMin = h.options().gzipMin() // as net/http's server answers it
	if !a.PreflightOf(w, http.MethodOptions, fastRequest{ctx}, net.Name, pathKey) {
		return false
	}
	w.finish()
	return true
}

// ServeFastError answers a request fasthttp's server could not read, as
// net/http's server and ServeHTTP answer the same request.
func (h *Handler) ServeFastError(ctx *fasthttp.RequestCtx, err error) {
	var small *fasthttp.ErrSmallBuffer
	switch {
	case errors.Is(err, fasthttp.ErrBodyTooLarge):
		net, _, alias, _ := h.route(b2s(ctx.Path()))
		if net == nil {
			plainError(ctx, http.StatusRequestEntityTooLarge)
			return
		}
		w := getFastWriter(ctx)
		defer putFastWriter(w)
		w.gzipMin = h.options().gzipMin()
		ex := exchange{h: h, net: net, w: w, start: time.Now(), class: sched.ClassFrom(fastRequest{ctx})}
		ex.begin(alias, "")
		ex.run(context.Background(), nil, errTooLarge)
		w.finish()
		ctx.SetConnectionClose()
		return
	case errors.As(err, &small):
		plainError(ctx, http.StatusRequestHeaderFieldsTooLarge)
		return
	case errors.Is(err, os.ErrDeadlineExceeded):
		plainError(ctx, http.StatusRequestTimeout)
		return
	}
	plainError(ctx, http.StatusBadRequest)
}

// plainError answers as net/http's server does a request it cannot read.
func plainError(ctx *fasthttp.RequestCtx, status int) {
	ctx.Response.Reset()
	ctx.SetStatusCode(status)
	ctx.SetContentType("text/plain; charset=utf-8")
	ctx.SetBodyString(http.StatusText(status))
	ctx.SetConnectionClose()
}

// fastRequest is a request of fasthttp's server as access.Request. The
// strings Get returns live as long as the request: what outlives it is
// copied (ClientOf, validRequestID's caller).
type fastRequest struct{ ctx *fasthttp.RequestCtx }

func (f fastRequest) Get(key string) string { return b2s(f.ctx.Request.Header.Peek(key)) }

func (f fastRequest) Values(key string) []string {
	var out []string
	for _, v := range f.ctx.Request.Header.PeekAll(key) {
		out = append(out, string(v))
	}
	return out
}

func (f fastRequest) RemoteAddr() netip.Addr {
	a, _ := netip.AddrFromSlice(f.ctx.RemoteIP())
	return a.Unmap()
}

func b2s(b []byte) string { return unsafe.String(unsafe.SliceData(b), len(b)) }

// fastWriter is an http.ResponseWriter over fasthttp's response: the
// exchange writes to it as to net/http's. Headers are copied into the
// response at WriteHeader; the body is held by fasthttp, which writes it
// with its length once the call is answered.
//
// A node's answer longer than directMin is not held: it goes straight to
// the client's connection as it arrives (see Stream), chunked when its
// length is unknown, and that connection is closed after it.
//
// For a client that accepts gzip, a held answer of at least gzipMin bytes
// is compressed whole at finish; a direct one is compressed as it goes,
// chunked.
type fastWriter struct {
	ctx   *fasthttp.RequestCtx
	hdr   http.Header
	reqID string // the answer's X-Request-Id (setRequestID)
	idBuf []byte // room for a request id made here
	wrote bool

	streamLen int64         // set by Stream: the length of the answer to come (-1: unknown)
	stream    bool          // the next WriteHeader starts a direct answer
	grow      bool          // an answer of unknown length: direct once over directMin
	direct    *bufio.Writer // the client's connection, during a direct answer
	chunked   bool
	err       error // the direct answer's write failed
	aborted   bool  // the answer was cut: the connection is closed

	gzipMin int      // least answer length compressed (-1: compression off)
	gz      *gzipper // compresses a direct answer
}

// directMin is the longest answer held in memory before it is written.
const directMin = 1 << 20

// directWriteTimeout bounds the writing of a direct answer (the server's
// own write timeout does not see it).
const directWriteTimeout = 120 * time.Second

var fastWriters = sync.Pool{New: func() any { return &fastWriter{hdr: make(http.Header, 4), idBuf: make([]byte, 0, 32), gzipMin: -1} }}

func getFastWriter(ctx *fasthttp.RequestCtx) *fastWriter {
	w := fastWriters.Get().(*fastWriter)
	w.ctx = ctx
	return w
}

func putFastWriter(w *fastWriter) {
	clear(w.hdr)
	w.ctx, w.wrote, w.reqID = nil, false, ""
	w.stream, w.grow, w.streamLen, w.direct, w.chunked, w.err, w.aborted = false, false, 0, nil, false, nil, false
	w.gzipMin, w.gz = -1, nil
	fastWriters.Put(w)
}

// setRequestID sets the answer's X-Request-Id, written by WriteHeader
// straight into fasthttp's header: not through the Header map, which a
// plain call's answer then leaves empty.
func (w *fastWriter) setRequestID(id string) { w.reqID = id }

func (w *fastWriter) Header() http.Header { return w.hdr }

func (w *fastWriter) WriteHeader(status int) {
	if w.wrote {
		return
	}
	w.wrote = true
	rh := &w.ctx.Response.Header
	for k, vs := range w.hdr {
		switch k {
		case "Content-Length", "Transfer-Encoding", "Connection":
			continue // fasthttp writes them from the body it holds
		case "Content-Type":
			if len(vs) > 0 {
				rh.SetContentType(vs[0])
			}
			continue
		}
		for _, v := range vs {
			rh.Add(k, v)
		}
	}
	if w.reqID != "" {
		rh.Set("X-Request-Id", w.reqID)
	}
	if w.gzipMin >= 0 {
		// Compressed or not, the answer depends on Accept-Encoding.
		rh.Add("Vary", "Accept-Encoding")
	}
	w.ctx.SetStatusCode(status)
	if w.stream {
		w.startDirect()
	}
}

// Stream announces that the body to come is a node's answer of length
// bytes (-1: unknown), written as it arrives.
func (w *fastWriter) Stream(length int64) {
	switch {
	case w.wrote || !w.flushed():
	case length > directMin:
		w.stream, w.streamLen = true, length
	case length < 0:
		w.grow = true
	}
}

// flushed reports that the answers before this request on its connection
// have been written out: a direct answer then cannot overtake one a
// pipelining client is still owed, which is otherwise held whole instead.
func (w *fastWriter) flushed() bool {
	f, ok := w.ctx.Conn().(interface{ AnswersFlushed() bool })
	return !ok || f.AnswersFlushed()
}

// startDirect writes the answer's head to the connection; the body
// follows in Write, chunked when its length is unknown or it is compressed.
func (w *fastWriter) startDirect() {
	rh := &w.ctx.Response.Header
	rh.SetConnectionClose()
	size := w.streamLen
	if size < 0 {
		size = int64(len(w.ctx.Response.Body())) // held so far
	}
	zip := w.compresses(size)
	if zip {
		rh.SetContentEncoding("gzip")
	}
	w.chunked = w.streamLen < 0 || zip
	switch {
	case w.chunked && !w.ctx.Request.Header.IsHTTP11():
		// HTTP/1.0 knows no chunks: the answer ends where the connection does.
		w.chunked = false
		rh.SetContentLength(-2)
	case w.chunked:
		rh.SetContentLength(-1)
	default:
		rh.SetContentLength(int(w.streamLen))
	}
	c := w.ctx.Conn()
	_ = c.SetWriteDeadline(time.Now().Add(directWriteTimeout))
	w.direct = directWriters.Get().(*bufio.Writer)
	w.direct.Reset(c)
	_, w.err = w.direct.Write(rh.Header())
	if zip {
		w.gz = getGzipper()
		w.gz.z.Reset((*directBody)(w))
	}
}

// compresses reports whether an answer of n bytes is compressed.
func (w *fastWriter) compresses(n int64) bool {
	return w.gzipMin >= 0 && n >= int64(w.gzipMin) && len(w.ctx.Response.Header.ContentEncoding()) == 0 &&
		acceptsGzipFast(&w.ctx.Request.Header)
}

// gzipHeld compresses a held answer whole, when it is long enough.
func (w *fastWriter) gzipHeld() {
	body := w.ctx.Response.Body()
	if !w.compresses(int64(len(body))) {
		return
	}
	g := getGzipper()
	out := g.compress(body)
	// The response keeps the compressed bytes; the gzipper keeps the
	// response's buffer for the next answer.
	g.buf = w.ctx.Response.SwapBody(out)[:0]
	putGzipper(g)
	w.ctx.Response.Header.SetContentEncoding("gzip")
}

// directBody is the fast writer as the writer of a direct answer's bytes:
// a compressed direct answer's gzip stream writes to it.
type directBody fastWriter

func (d *directBody) Write(p []byte) (int, error) { return (*fastWriter)(d).writeDirect(p) }

var directWriters = sync.Pool{New: func() any { return bufio.NewWriterSize(nil, 32<<10) }}

func (w *fastWriter) Write(p []byte) (int, error) {
	if !w.wrote {
		w.WriteHeader(http.StatusOK)
	}
	if w.direct == nil {
		w.ctx.Response.AppendBody(p)
		if err := w.spillLong(); err != nil {
			return 0, err
		}
		return len(p), nil
	}
	if w.gz != nil {
		if w.err != nil {
			return 0, w.err
		}
		return w.gz.write(p, w.flushDirect)
	}
	return w.writeDirect(p)
}

// flushDirect sends on what the connection's buffer holds of a direct answer.
func (w *fastWriter) flushDirect() error {
	if w.err == nil {
		w.err = w.direct.Flush()
	}
	return w.err
}

// writeDirect writes bytes of a direct answer to the connection, as a
// chunk when the answer is chunked.
func (w *fastWriter) writeDirect(p []byte) (int, error) {
	if w.err != nil || len(p) == 0 {
		return 0, w.err
	}
	if w.chunked {
		var size [20]byte
		_, w.err = w.direct.Write(append(strconv.AppendInt(size[:0], int64(len(p)), 16), '\r', '\n'))
	}
	if w.err == nil {
		_, w.err = w.direct.Write(p)
	}
	if w.chunked && w.err == nil {
		_, w.err = w.direct.WriteString("\r\n")
	}
	if w.err != nil {
		return 0, w.err
	}
	return len(p), nil
}

// spillLong starts a direct answer once an answer of unknown length grows
// longer than is held: what is held goes out as the first chunk.
func (w *fastWriter) spillLong() error {
	if !w.grow || len(w.ctx.Response.Body()) <= directMin {
		return nil
	}
	w.grow, w.streamLen = false, -1
	w.startDirect()
	held := w.ctx.Response.Body()
	n, err := w.Write(held)
	w.ctx.Response.ResetBody()
	if n < len(held) {
		return err
	}
	return nil
}

// readRoom is the least free room a read into the held body gets.
const readRoom = 4 << 10

// ReadFrom reads r (io.Copy's path): straight into the held body, with no
// copy through a buffer of its own, and once the answer goes direct,
// through a pooled buffer to the connection. A write error (the client is
// gone) stops the reading of the node's answer.
func (w *fastWriter) ReadFrom(r io.Reader) (int64, error) {
	if !w.wrote {
		w.WriteHeader(http.StatusOK)
	}
	var total int64
	for w.direct == nil {
		body := w.ctx.Response.SwapBody(nil)
		if cap(body)-len(body) < readRoom {
			body = slices.Grow(body, max(len(body), 16<<10))
		}
		n, err := r.Read(body[len(body):cap(body)])
		w.ctx.Response.SwapBody(body[:len(body)+n])
		total += int64(n)
		if werr := w.spillLong(); werr != nil {
			return total, werr
		}
		if errors.Is(err, io.EOF) {
			return total, nil
		}
		if err != nil {
			return total, err
		}
	}
	n, err := copyPooled(w, r)
	return total + n, err
}

// Retake clears an answer still held (none of it was written to the
// connection): its status, headers and body. A direct one cannot be.
func (w *fastWriter) Retake() bool {
	if w.direct != nil || w.aborted {
		return false
	}
	w.ctx.Response.Reset()
	delete(w.hdr, "Content-Length")
	w.wrote, w.stream, w.grow, w.streamLen = false, false, false, 0
	return true
}

// Abort ends an answer the node cut short: the connection is closed
// without ending the answer, so the client sees it cut, as the node sent it.
func (w *fastWriter) Abort() {
	w.aborted = true
	if w.gz != nil {
		putGzipper(w.gz)
		w.gz = nil
	}
	if w.direct != nil {
		w.direct.Reset(nil)
		directWriters.Put(w.direct)
		w.direct = nil
	}
	w.ctx.HijackSetNoResponse(true)
	w.ctx.Hijack(func(c net.Conn) { c.Close() })
}

// finish writes the headers of an exchange that wrote nothing, or ends a
// direct answer: the connection is then taken from fasthttp's server,
// which writes nothing more, and closed.
func (w *fastWriter) finish() {
	if w.aborted {
		return
	}
	if !w.wrote {
		w.WriteHeader(http.StatusOK)
	}
	if w.direct == nil {
		w.gzipHeld()
		return
	}
	if w.gz != nil {
		if err := w.gz.z.Close(); w.err == nil {
			w.err = err
		}
		putGzipper(w.gz)
		w.gz = nil
	}
	if w.chunked && w.err == nil {
		_, w.err = w.direct.WriteString("0\r\n\r\n")
	}
	if w.err == nil {
		w.err = w.direct.Flush()
	}
	w.direct.Reset(nil)
	directWriters.Put(w.direct)
	w.direct = nil
	w.ctx.HijackSetNoResponse(true)
	w.ctx.Hijack(func(c net.Conn) { c.Close() })
}
