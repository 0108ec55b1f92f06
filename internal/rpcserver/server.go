package rpcserver

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/valyala/fasthttp"
)

// Fast serves a request on the fast path. It reports false, having written
// nothing, when the request is for the net/http server.
type Fast func(ctx *fasthttp.RequestCtx) bool

// Options are the limits both servers apply.
type Options struct {
	ReadHeaderTimeout time.Duration // from the first byte to the end of the header
	ReadTimeout       time.Duration // the whole request
	WriteTimeout      time.Duration
	IdleTimeout       time.Duration // between requests on a kept-alive connection
	MaxHeaderBytes    int
	// MaxBodyBytes is the largest request body read now (it may change
	// on a configuration reload).
	MaxBodyBytes func() int
	// Error answers a request fasthttp could not read (a body over
	// MaxBodyBytes, a header over MaxHeaderBytes, a malformed request).
	Error func(ctx *fasthttp.RequestCtx, err error)
	// TLS, when set, is the listener's TLS configuration.
	TLS *tls.Config
	Log *slog.Logger
	// Base, when set, is the context the requests' contexts descend from
	// on both servers: net/http's BaseContext, and the parent of each
	// fast connection's own context (see flushConn.Context). Ending it
	// ends the requests' contexts, with its cause.
	Base context.Context
}

// Server is the JSON-RPC listener's server.
type Server struct {
	fast    *fasthttp.Server
	std     *http.Server
	handoff *handoff
	tls     *tls.Config
	serving sync.WaitGroup
	handing sync.WaitGroup // requests being handed to net/http

	readHeaderTimeout time.Duration
	slack             int64           // how late a deadline may end (deadline.go)
	base              context.Context // Options.Base
}

// New returns a server that serves fast requests with fast and hands the
// others to std (whose Handler serves them; its timeouts and header limit
// are set from o).
func New(fast Fast, std *http.Server, o Options) *Server {
	s := &Server{std: std, handoff: newHandoff(), tls: o.TLS, base: o.Base}
	if o.Base != nil {
		std.BaseContext = func(net.Listener) context.Context { return o.Base }
	}
	if s.tls != nil {
		s.tls = s.tls.Clone()
		// HTTP/2 goes to net/http's server, HTTP/1.1 to the fast one.
		s.tls.NextProtos = []string{"h2", "http/1.1"}
	}
	std.ReadHeaderTimeout, std.ReadTimeout = o.ReadHeaderTimeout, o.ReadTimeout
	std.WriteTimeout, std.IdleTimeout, std.MaxHeaderBytes = o.WriteTimeout, o.IdleTimeout, o.MaxHeaderBytes
	// The connections it gets are decrypted already, or (HTTP/2) TLS
	// connections whose handshake is done: without a TLSConfig of its
	// own, net/http serves HTTP/2 on those.
	std.TLSConfig = nil
	prev := std.ConnState
	std.ConnState = func(c net.Conn, st http.ConnState) {
		if rc, ok := c.(*replayConn); ok && st != http.StateNew && st != http.StateActive {
			rc.answered(&s.handing)
		}
		if prev != nil {
			prev(c, st)
		}
	}
	s.readHeaderTimeout = o.ReadHeaderTimeout
	s.slack = deadlineSlack(shortest(o.ReadHeaderTimeout, o.ReadTimeout, o.WriteTimeout, o.IdleTimeout))
	s.fast = &fasthttp.Server{
		Handler: func(ctx *fasthttp.RequestCtx) {
			if isUpgrade(&ctx.Request.Header) || !fast(ctx) {
				s.handOver(ctx)
				return
			}
			if fc, ok := ctx.Conn().(*flushConn); ok {
				fc.answered()
			}
		},
		ErrorHandler: func(ctx *fasthttp.RequestCtx, err error) {
			o.Error(ctx, err)
			// A body or a header over its limit is still being sent.
			var small *fasthttp.ErrSmallBuffer
			if errors.Is(err, fasthttp.ErrBodyTooLarge) || errors.As(err, &small) {
				linger(ctx)
			}
		},
		HeaderReceived: func(*fasthttp.RequestHeader) fasthttp.RequestConfig {
			return fasthttp.RequestConfig{ReadTimeout: o.ReadTimeout, MaxRequestBodySize: o.MaxBodyBytes()}
		},
		// ReadTimeout runs from a request's first byte: the header must
		// come within it (HeaderReceived then gives the body its own).
		ReadTimeout:           o.ReadHeaderTimeout,
		WriteTimeout:          o.WriteTimeout,
		IdleTimeout:           o.IdleTimeout,
		ReadBufferSize:        o.MaxHeaderBytes,
		WriteBufferSize:       writeBufferSize,
		MaxRequestBodySize:    o.MaxBodyBytes(),
		NoDefaultServerHeader: true,
		// Nothing reads a request's time from the server: no clock read per request for it.
		LazyRequestTime: true,
		// A JSON-RPC body is read as JSON whatever its content type says; a
		// multipart one is not parsed as a form first.
		DisablePreParseMultipartForm: true,
		NoDefaultContentType:         true,
		KeepHijackedConns:            true,
		ConnState:                    func(c net.Conn, st fasthttp.ConnState) { s.connState(c, st) },
		CloseOnShutdown:              true,
		Logger:                       fastLogger{o.Log},
	}
	return s
}

// Serve serves ln until Shutdown; it returns http.ErrServerClosed then.
func (s *Server) Serve(ln net.Listener) error {
	ln = steadyListener{ln}
	if s.tls != nil {
		ln = newTLSSplit(ln, s.tls, s.readHeaderTimeout, func(c net.Conn) { s.handoff.give(c) })
	}
	ln = flushListener{Listener: ln, slack: s.slack, base: s.base}
	s.serving.Add(1)
	go func() {
		defer s.serving.Done()
		_ = s.std.Serve(s.handoff) // ends with ErrServerClosed when Shutdown closes the hand-off
	}()
	err := s.fast.Serve(ln)
	if err == nil {
		return http.ErrServerClosed
	}
	return err
}

// Shutdown stops accepting connections, closes the idle ones and waits,
// until ctx ends, for the requests in flight on both servers. The fast
// server stops first: a request it is serving may still be handed over,
// so the net/http server takes connections until the fast one is done.
func (s *Server) Shutdown(ctx context.Context) error {
	err := s.fast.ShutdownWithContext(ctx)
	// A request the fast server read and declined is handed over after
	// its connection left the fast server's count, and net/http drops a
	// request it reads once shutting down: wait until each such request
	// is answered, then shut net/http down.
	handed := make(chan struct{})
	go func() { s.handing.Wait(); close(handed) }()
	select {
	case <-handed:
	case <-ctx.Done():
	}
	stdErr := s.std.Shutdown(ctx)
	s.serving.Wait()
	return errors.Join(err, stdErr)
}

// lingerTime bounds how long an early answer waits for the client to
// stop sending a body the server will not read.
const lingerTime = 500 * time.Millisecond

// linger answers a request whose body or header is not read (over its
// size limit) the way net/http's server does: the answer is written at once, the
// connection half-closed, and what the client still sends is read and
// dropped for a while, so that the client reads the answer instead of
// losing it to a reset.
func linger(ctx *fasthttp.RequestCtx) {
	c := ctx.Conn()
	ctx.SetConnectionClose()
	if fc, ok := c.(*flushConn); ok && !fc.AnswersFlushed() {
		// A pipelining client's earlier answer is still in the server's
		// buffer: the server writes this one after it, then closes.
		return
	}
	_ = c.SetWriteDeadline(time.Now().Add(lingerTime))
	if _, err := ctx.Response.WriteTo(c); err != nil {
		return
	}
	if cw, ok := c.(interface{ CloseWrite() error }); ok {
		_ = cw.CloseWrite() // fasthttp's own write of the answer now fails, unseen
	}
	ctx.Response.Reset()
	_ = c.SetReadDeadline(time.Now().Add(lingerTime))
	_, _ = io.Copy(io.Discard, io.LimitReader(c, 64<<20))
}

// isUpgrade reports a WebSocket upgrade request.
func isUpgrade(h *fasthttp.RequestHeader) bool {
	return len(h.Peek("Upgrade")) > 0
}

// handOver gives the connection of ctx, with the request already read, to
// the net/http server.
func (s *Server) handOver(ctx *fasthttp.RequestCtx) {
	ctx.Request.Header.Del("Expect") // a 100 Continue was already sent, when asked for
	var raw bytes.Buffer
	if _, err := ctx.Request.WriteTo(&raw); err != nil {
		ctx.Error("cannot serve this request", fasthttp.StatusInternalServerError)
		return
	}
	ctx.HijackSetNoResponse(true)
	// fasthttp calls the hijack handler unless the connection broke
	// meanwhile; it then closes the connection instead (see connState).
	s.handing.Add(1)
	fc, _ := ctx.Conn().(*flushConn)
	if fc != nil {
		fc.handing.Store(true)
	}
	ctx.Hijack(func(c net.Conn) {
		if fc != nil && !fc.handing.CompareAndSwap(true, false) {
			return // counted as closed already
		}
		if fc != nil {
			fc.goDirect()
		}
		rc := &replayConn{Conn: c, r: io.MultiReader(&raw, c)}
		if !s.handoff.give(rc) {
			rc.answered(&s.handing)
		}
	})
}

// connState ends the count of a hand-over that fasthttp gave up: the
// connection broke before the hijack handler could run, and fasthttp
// closed it.
func (s *Server) connState(c net.Conn, st fasthttp.ConnState) {
	if fc, ok := c.(*flushConn); ok && st == fasthttp.StateClosed && fc.handing.CompareAndSwap(true, false) {
		s.handing.Done()
	}
}

// replayConn is a connection whose request was read by the fast server:
// its reader gives those bytes again, then the rest of the connection.
type replayConn struct {
	net.Conn
	r    io.Reader
	once sync.Once
}

// answered notes that the replayed request was answered (or never will be).
func (c *replayConn) answered(wg *sync.WaitGroup) { c.once.Do(wg.Done) }

func (c *replayConn) Read(p []byte) (int, error) { return c.r.Read(p) }

// fastLogger writes fasthttp's own messages (a connection that broke) at
// debug level.
type fastLogger struct{ log *slog.Logger }

func (l fastLogger) Printf(format string, args ...any) {
	if l.log != nil && l.log.Enabled(context.Background(), slog.LevelDebug) {
		l.log.Debug("rpc server", "msg", fmt.Sprintf(format, args...))
	}
}

// shortest returns the shortest of the durations over 0 (0: none).
func shortest(ds ...time.Duration) time.Duration {
	var m time.Duration
	for _, d := range ds {
		if d > 0 && (m == 0 || d < m) {
			m = d
		}
	}
	return m
}
