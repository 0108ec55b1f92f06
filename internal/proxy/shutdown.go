package proxy

import (
	"context"
	"errors"
	"sync/atomic"

	"github.com/evmgate/evmgate/internal/jsonrpc"
)

// The end of a shutdown's grace (shutdown_grace): the calls still in
// flight are not cut but answered, -32056 with HTTP 503 and Retry-After,
// so that their clients send them again to another replica. StopCalls
// ends the handler's base context with ErrShuttingDown as its cause; every
// request's context descends from it (ServeFast through its connection's,
// ServeHTTP through the net/http server's BaseContext, WebSocket calls
// through Stoppable), so the calls waiting (queued, between tries, on a
// node over net/http) end, and each path answers through its usual error
// path, which turns that cause into the error (stopped). A call waiting on
// a node over the pooled HTTP/1.1 client, which does not watch a short
// try's context, ends when the gateway interrupts the node
// (upstream.Node.Interrupt). Nothing of this runs per call until then.

// ErrShuttingDown is the cause of the contexts that StopCalls ends.
var ErrShuttingDown = errors.New("the gateway is shutting down")

// errShutdown is the answer of a call the end of the grace interrupted.
var errShutdown = jsonrpc.NewError(jsonrpc.CodeShuttingDown,
	"the gateway is shutting down: send the call again, to another replica")

// shutdownRetryAfter is the Retry-After of errShutdown's answers: another
// replica can take the call at once.
var shutdownRetryAfter = []string{"1"}

// stopState is what StopCalls ends and counts.
type stopState struct {
	base   context.Context // every request's context descends from it
	cancel context.CancelCauseFunc
	// stopped is set by StopCalls; answered counts the calls answered
	// errShutdown since (a batch's each), cut the answers cut partway.
	stopped  atomic.Bool
	answered atomic.Int64
	cut      atomic.Int64
}

func (s *stopState) init() { s.base, s.cancel = context.WithCancelCause(context.Background()) }

// Base is the context the calls' contexts descend from: the net/http
// server's BaseContext, the fast server's connections' parent.
func (h *Handler) Base() context.Context { return h.stop.base }

// StopCalls ends the calls in flight, for the end of shutdown_grace: each
// is answered -32056 (a call whose answer is partly written is cut). The
// caller interrupts the nodes too (upstream.Node.Interrupt), after this.
func (h *Handler) StopCalls() {
	h.stop.stopped.Store(true)
	h.stop.cancel(ErrShuttingDown)
}

// Stopped returns how many calls were answered -32056 since StopCalls
// (each of a batch's calls counts), and how many answers it cut partway.
func (h *Handler) Stopped() (answered, cut int64) {
	return h.stop.answered.Load(), h.stop.cut.Load()
}

// Stoppable returns a context of parent that StopCalls ends too, for
// calls that do not descend from Base (a WebSocket connection's), and the
// function that releases it.
func (h *Handler) Stoppable(parent context.Context) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancelCause(parent)
	unwatch := context.AfterFunc(h.stop.base, func() { cancel(ErrShuttingDown) })
	return ctx, func() {
		unwatch()
		cancel(nil)
	}
}

// stopped reports whether ctx ended because StopCalls stopped the calls.
func stopped(ctx context.Context) bool {
	return ctx.Err() != nil && errors.Is(context.Cause(ctx), ErrShuttingDown)
}

// gone is the error of a call whose context ended under a try: the
// shutdown's answer when StopCalls ended it, else the client went away.
func gone(ctx context.Context) error {
	if stopped(ctx) {
		return errShutdown
	}
	return errClientGone
}

// countStopped counts calls answered errShutdown.
func (h *Handler) countStopped(calls int) { h.stop.answered.Add(int64(calls)) }

// countCut counts an answer cut partway, when the calls are being stopped
// (otherwise a node or a client cut it, as before).
func (h *Handler) countCut() {
	if h.stop.stopped.Load() {
		h.stop.cut.Add(1)
	}
}

// connContext is a server connection that carries its requests' parent
// context (internal/rpcserver's connections do).
type connContext interface{ Context() context.Context }

// parentOf is the parent context of a request on the fast server's
// connection c: the connection's, so that a request's context registers
// with it, not with Base shared by every request.
func (h *Handler) parentOf(c any) context.Context {
	if cc, ok := c.(connContext); ok {
		if ctx := cc.Context(); ctx != nil {
			return ctx
		}
	}
	return h.stop.base
}
