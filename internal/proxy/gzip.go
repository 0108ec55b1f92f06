package proxy

import (
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"

	"github.com/klauspost/compress/gzip"
	"github.com/valyala/fasthttp"
)

// Answers are gzip-compressed (response_compression) for a client whose
// Accept-Encoding allows gzip, when they are at least the configured
// length and carry no Content-Encoding already. Both HTTP servers of the
// JSON-RPC port compress the same answers the same way: an answer held
// whole (up to directMin) is compressed whole and sent with its
// compressed length; a longer one is compressed as it streams, chunked.
// A compressed answer carries Content-Encoding: gzip. While compression
// is on, every answer of the requests that may be compressed carries
// Vary: Accept-Encoding, compressed or not (short, or to a client that did
// not ask for gzip): an HTTP cache then keeps the two forms apart.

// gzipLevel is klauspost's fastest level that keeps a window across
// writes: JSON-RPC answers (hex strings, repeated keys) shrink 5-10x at it.
const gzipLevel = gzip.BestSpeed

// gzipMin is the least answer length compressed; -1 when compression is off.
func (o *Options) gzipMin() int {
	if !o.Compress {
		return -1
	}
	return max(o.CompressMinBytes, 1) // an empty answer stays empty
}

// acceptEncoding reads Accept-Encoding values: gzip is allowed when it is
// listed with a q above 0, or, not listed, when * is.
type acceptEncoding struct {
	gzip, star int8 // 0: not listed, 1: allowed, -1: refused (q=0)
}

func (a *acceptEncoding) add(v string) {
	for v != "" {
		var item string
		item, v, _ = strings.Cut(v, ",")
		coding, params, _ := strings.Cut(item, ";")
		coding = strings.TrimSpace(coding)
		allowed := int8(1)
		if !qAboveZero(params) {
			allowed = -1
		}
		switch {
		case strings.EqualFold(coding, "gzip"), strings.EqualFold(coding, "x-gzip"):
			a.gzip = allowed
		case coding == "*":
			a.star = allowed
		}
	}
}

func (a *acceptEncoding) allowsGzip() bool {
	if a.gzip != 0 {
		return a.gzip > 0
	}
	return a.star > 0
}

// qAboveZero reports whether an item's parameters give it a weight above 0
// (no q is 1). A q that is not a number refuses the coding: identity is
// always a safe answer.
func qAboveZero(params string) bool {
	for params != "" {
		var p string
		p, params, _ = strings.Cut(params, ";")
		name, value, _ := strings.Cut(p, "=")
		if !strings.EqualFold(strings.TrimSpace(name), "q") {
			continue
		}
		q, err := strconv.ParseFloat(strings.TrimSpace(value), 64)
		return err == nil && q > 0
	}
	return true
}

// acceptsGzip reports whether a request's Accept-Encoding lines allow gzip.
func acceptsGzip(values []string) bool {
	var a acceptEncoding
	for _, v := range values {
		a.add(v)
	}
	return a.allowsGzip()
}

// acceptsGzipFast is acceptsGzip for a request of fasthttp's server.
func acceptsGzipFast(h *fasthttp.RequestHeader) bool {
	if len(h.Peek("Accept-Encoding")) == 0 {
		return false
	}
	var a acceptEncoding
	for _, v := range h.PeekAll("Accept-Encoding") {
		a.add(b2s(v))
	}
	return a.allowsGzip()
}

// gzipper is a pooled gzip writer with a buffer that whole answers are
// compressed into.
type gzipper struct {
	z   *gzip.Writer
	buf []byte
	in  int // bytes written to a stream since its last flush
}

// gzipFlushBytes is how much of a streamed answer is compressed before
// what it compressed to is sent on: a node's answer goes to the client as
// it arrives even when it compresses well (the compressor and the
// connection's buffer would otherwise hold it).
const gzipFlushBytes = 64 << 10

// write compresses p into a stream and flushes the compressor, then the
// stream's writer, every gzipFlushBytes.
func (g *gzipper) write(p []byte, flush func() error) (int, error) {
	n, err := g.z.Write(p)
	g.in += n
	if err == nil && g.in >= gzipFlushBytes {
		g.in = 0
		if err = g.z.Flush(); err == nil {
			err = flush()
		}
	}
	return n, err
}

var gzippers = sync.Pool{New: func() any {
	z, _ := gzip.NewWriterLevel(io.Discard, gzipLevel)
	return &gzipper{z: z}
}}

func getGzipper() *gzipper { return gzippers.Get().(*gzipper) }

func putGzipper(g *gzipper) {
	g.z.Reset(io.Discard) // drop the stream it wrote to
	g.in = 0
	gzippers.Put(g)
}

// Write appends to buf: the writer of compress.
func (g *gzipper) Write(p []byte) (int, error) {
	g.buf = append(g.buf, p...)
	return len(p), nil
}

// compress returns src compressed, in g's buffer.
func (g *gzipper) compress(src []byte) []byte {
	g.buf = g.buf[:0]
	g.z.Reset(g)
	_, _ = g.z.Write(src)
	_ = g.z.Close()
	return g.buf
}

// markGzip sets the headers of a compressed answer.
func markGzip(h http.Header) {
	h.Del("Content-Length")
	h["Content-Encoding"] = gzipHeader
}

var gzipHeader = []string{"gzip"}

// Compress wraps next, the handler of the JSON-RPC port's net/http server
// (JSON-RPC over HTTP/2, REST routes, prio-load-balancer paths), so that
// its answers are compressed as the fast server's are. WebSocket upgrades
// pass untouched. A HEAD answer has no body to compress, but it carries
// the Vary its GET would (RFC 9110, section 9.3.2), so that a cache that
// learns from it keeps the forms apart; the fast server hands HEAD
// requests to net/http's, so this is the one place for both.
func (h *Handler) Compress(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		min := h.options().gzipMin()
		if min < 0 || r.Header.Get("Upgrade") != "" {
			next.ServeHTTP(w, r)
			return
		}
		w.Header().Add("Vary", "Accept-Encoding") // compressed or not, as the fast server does
		if r.Method == http.MethodHead {
			next.ServeHTTP(w, r)
			return
		}
		if !acceptsGzip(r.Header["Accept-Encoding"]) {
			next.ServeHTTP(w, r)
			return
		}
		gw := gzipResponses.Get().(*gzipResponse)
		gw.ResponseWriter, gw.min = w, min
		defer gw.release()
		next.ServeHTTP(gw, r)
		gw.finish()
	})
}

// gzipResponse is the response writer of a client that accepts gzip on
// the net/http server. Like the fast server's writer, it holds an answer
// of up to directMin bytes whole, then compresses it (or not, when it is
// short) and writes it with its length; a longer answer is compressed as
// it streams.
type gzipResponse struct {
	http.ResponseWriter
	min     int
	status  int
	held    []byte
	gz      *gzipper // a compressed answer streaming
	pass    bool     // an answer over directMin that is not compressed streams as it is
	aborted bool
}

var gzipResponses = sync.Pool{New: func() any { return new(gzipResponse) }}

func (g *gzipResponse) release() {
	if g.gz != nil {
		putGzipper(g.gz)
	}
	held := g.held[:0]
	if cap(held) > directMin+readRoom {
		held = nil // a long answer's buffer is not kept
	}
	*g = gzipResponse{held: held}
	gzipResponses.Put(g)
}

func (g *gzipResponse) WriteHeader(status int) {
	if g.status == 0 {
		g.status = status
	}
}

func (g *gzipResponse) Write(p []byte) (int, error) {
	if g.status == 0 {
		g.status = http.StatusOK
	}
	switch {
	case g.gz != nil:
		return g.gz.write(p, g.flush)
	case g.pass:
		return g.ResponseWriter.Write(p)
	}
	g.held = append(g.held, p...)
	if len(g.held) > directMin {
		if err := g.startStream(); err != nil {
			return 0, err
		}
	}
	return len(p), nil
}

// flush sends on what the server's writer holds of a compressed stream.
func (g *gzipResponse) flush() error {
	return http.NewResponseController(g.ResponseWriter).Flush()
}

// ReadFrom copies a streamed answer through a pooled buffer.
func (g *gzipResponse) ReadFrom(r io.Reader) (int64, error) { return copyPooled(g, r) }

// Unwrap lets http.ResponseController reach the server's writer.
func (g *gzipResponse) Unwrap() http.ResponseWriter { return g.ResponseWriter }

// Abort marks an answer the node cut short: it is not completed, so the
// client sees it cut (a held answer goes out as it is, short of its
// Content-Length; a compressed stream lacks its end).
func (g *gzipResponse) Abort() { g.aborted = true }

// compresses reports whether an answer of n bytes is compressed.
func (g *gzipResponse) compresses(n int) bool {
	return !g.aborted && n >= g.min && g.ResponseWriter.Header().Get("Content-Encoding") == ""
}

// startStream sends what is held of an answer grown over directMin and
// streams the rest.
func (g *gzipResponse) startStream() error {
	held := g.held
	g.held = g.held[:0]
	if !g.compresses(len(held)) {
		g.pass = true
		g.ResponseWriter.WriteHeader(g.status)
		_, err := g.ResponseWriter.Write(held)
		return err
	}
	markGzip(g.ResponseWriter.Header())
	g.ResponseWriter.WriteHeader(g.status)
	g.gz = getGzipper()
	g.gz.z.Reset(g.ResponseWriter)
	_, err := g.gz.z.Write(held)
	return err
}

// finish writes a held answer, compressed when it is long enough, or ends
// a compressed stream.
func (g *gzipResponse) finish() {
	switch {
	case g.gz != nil:
		if !g.aborted {
			_ = g.gz.z.Close()
		}
		return
	case g.pass, g.status == 0:
		return // streamed, or nothing written: the server answers
	}
	out := g.held
	if g.compresses(len(out)) {
		gz := getGzipper()
		defer putGzipper(gz)
		out = gz.compress(out)
		h := g.ResponseWriter.Header()
		markGzip(h)
		h["Content-Length"] = contentLength(int64(len(out)))
	}
	g.ResponseWriter.WriteHeader(g.status)
	_, _ = g.ResponseWriter.Write(out)
}
