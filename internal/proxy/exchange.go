package proxy

import (
	"context"
	"errors"
	"github.com/evmgate/evmgate/internal/logbuf"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/evmgate/evmgate/internal/access"
	"github.com/evmgate/evmgate/internal/balancer"
	"github.com/evmgate/evmgate/internal/consistent"
	"github.com/evmgate/evmgate/internal/jsonrpc"
	"github.com/evmgate/evmgate/internal/upstream"
	"go.opentelemetry.io/otel/trace"
)

// exchange is one client HTTP request.
type exchange struct {
	h     *Handler
	net   *Network
	w     http.ResponseWriter
	prio  *prioWriter // set on a prio-load-balancer path; w is then prio
	start time.Time
	class Class
	reqID string
	// by is the node of the last try (node its name) and, once a try
	// succeeded, the node whose answer the client was sent: a hedged
	// copy's node when the copy won. nil when what the client was sent is
	// no one node's answer (stitched eth_getLogs chunks, an answer held
	// from a failed try). The cache keeps only by's answers
	// (cache.Network.Put).
	by *upstream.Node
	// retryAfter is how long until a node has room, when every one that
	// could take the call waits on its rate limit (sent as Retry-After).
	retryAfter time.Duration
	// caller is who sent the request (nil without access checks); its
	// Name() is the client identity.
	caller *access.Caller

	// What the log line and metrics report.
	method string
	node   string
	tries  int
	status string // ok, rpc_error, gateway_error, client_gone
	size   int
	calls  int

	// client names the client for consistent reads: the X-Client-ID header
	// today, an API key's identity when the request carries one. "" is an
	// anonymous client (no consistency kept). session is its state, when
	// the network keeps consistent reads; readsHead says the request reads
	// the chain at its head (the head served is then recorded).
	client    string
	session   *consistent.Client
	readsHead bool

	// fallback is an answer kept while a better one is sought on another
	// node (a null by-hash lookup from a lagging node).
	fallback []byte
	// avoid is a node whose hedged copy failed: the next try goes elsewhere.
	avoid *upstream.Node
	// tried are the nodes the call's earlier tries went to (for a copy).
	tried []*upstream.Node

	// peer is the client's connection on the fast server, whose request
	// context does not end when the client goes away (see peerLeft and
	// tryWatched).
	peer net.Conn

	// times is what the request's tries and the request may take; an
	// exchange made for a part of it (a chunk of eth_getLogs) has the same.
	times callTimes

	// tr is the request's span and what only the span reports, when the
	// request is traced (nil: not traced, the usual case, which costs one
	// word here).
	tr *exchangeTrace

	// Room that saves allocations: the calls of a single call's request,
	// the nodes tried.
	callBuf  [1]jsonrpc.Call
	triedBuf [8]*upstream.Node
}

// serve answers a request's body within its budget (see timeouts).
func (ex *exchange) serve(parent context.Context, body []byte) {
	calls, batch, perr := jsonrpc.ParseAppend(ex.callBuf[:0], body)
	ctx := ex.timeouts(parent, calls)
	defer ctx.end()
	switch {
	case !ex.openSession():
	case perr != nil && !batch && len(calls) == 1:
		ex.writeError(perr, calls[0].ID) // an invalid call's readable id is echoed
	case perr != nil:
		ex.fail(perr)
	case !batch:
		ex.calls, ex.method = 1, calls[0].Method
		if e := ex.admitCalls(ctx, calls, false); e != nil {
			ex.writeError(e, calls[0].ID)
			break
		}
		ex.cachedSingle(ctx, &calls[0], body)
	case len(calls) > ex.h.options().MaxBatchSize:
		ex.fail(jsonrpc.NewError(jsonrpc.CodeBatchTooLarge, "batch of "+strconv.Itoa(len(calls))+
			" calls is over max_batch_size "+strconv.Itoa(ex.h.options().MaxBatchSize)+": split it"))
	default:
		ex.calls, ex.method = len(calls), "batch"
		if e := ex.admitCalls(ctx, calls, true); e != nil {
			ex.writeError(e, nil)
			break
		}
		ex.batch(ctx, calls, body)
	}
	ex.done()
}

// callTimes is what a request's tries and the request may take (see
// exchange.timeouts).
type callTimes struct {
	// try bounds each try: rpc_timeout, or the calls' method_timeouts;
	// methodTimed says an entry of method_timeouts set it, slow that the
	// entry is longer than rpc_timeout: a method slow by nature (a
	// trace), not one given a shorter leash.
	try         time.Duration
	methodTimed bool
	slow        bool
	// budget is the request's time: request_timeout, or the longest
	// method_timeouts entry of its calls when that is longer.
	budget time.Duration
}

// timeouts sets the request's try timeout and budget from its calls'
// methods and returns its context, which ends at the budget.
func (ex *exchange) timeouts(parent context.Context, calls []jsonrpc.Call) *requestCtx {
	var method time.Duration
	ex.times.try, method = ex.net.timeouts(calls)
	ex.times.methodTimed = method > 0
	ex.times.slow = method > ex.net.TryTimeout
	ex.times.budget = max(ex.h.options().RequestTimeout, method)
	if ex.times.budget >= longBudget {
		ex.extendWrite()
	}
	return newRequestCtx(parent, ex.times.budget)
}

// longBudget is the least budget for which the client connection's write
// deadline is moved past it: net/http's server gives a handler its write
// timeout (2 minutes) from the request's start.
const longBudget = 60 * time.Second

// extendWrite gives the answer's write time after the request's budget,
// on the servers whose write deadline runs while the handler does.
func (ex *exchange) extendWrite() {
	_ = http.NewResponseController(ex.w).SetWriteDeadline(time.Now().Add(ex.times.budget + directWriteTimeout))
}

// fail answers the whole request with a gateway error. The caller closes
// the exchange with done.
func (ex *exchange) fail(err error) {
	var e *jsonrpc.Error
	switch {
	case errors.As(err, &e):
	case errors.Is(err, errClientGone):
		ex.status = "client_gone"
		return
	default:
		e = jsonrpc.NewError(jsonrpc.CodeInternal, err.Error())
	}
	ex.writeError(e, nil)
}

func (ex *exchange) writeError(e *jsonrpc.Error, id []byte) {
	ex.status = "gateway_error"
	if e.Code == jsonrpc.CodeShuttingDown {
		ex.h.countStopped(max(ex.calls, 1))
		ex.w.Header()["Retry-After"] = shutdownRetryAfter
	}
	if ex.prio != nil {
		if n, status, ok := ex.prio.writePlainError(e); ok {
			ex.size = n
			ex.traceError(e, status)
			return
		}
	}
	ex.traceError(e, statusOf(e))
	out := e.AppendResponse(make([]byte, 0, 128), id)
	hdr := ex.w.Header()
	hdr["Content-Type"] = jsonHeader
	if ex.retryAfter > 0 && e.Code == jsonrpc.CodeOverloaded {
		// At most a cool-down's bound: an estimate past it says little.
		hdr.Set("Retry-After", access.RetryAfterHeader(min(ex.retryAfter, upstream.MaxCoolDown)))
	}
	ex.w.WriteHeader(statusOf(e))
	n, _ := ex.w.Write(out)
	ex.size = n
}

var jsonHeader = []string{"application/json"}

// done records metrics and the "request completed" log line.
func (ex *exchange) done() {
	d := time.Since(ex.start)
	if ex.tr != nil {
		ex.endSpan()
	}
	if ex.net.requests != nil {
		ex.net.requests.Inc()
		ex.net.duration.Observe(d.Seconds())
	}
	if m := ex.h.metrics; m != nil && ex.method != "" && ex.method != "batch" {
		ex.h.calls.get(ex.net.Name, jsonrpc.Label(ex.method), ex.status).Inc()
	}
	if !ex.h.options().LogRequests {
		return
	}
	level := slog.LevelInfo
	if ex.status == "gateway_error" {
		level = slog.LevelWarn
	}
	attrs := [...]slog.Attr{
		slog.String("req_id", ex.reqID), slog.String("network", ex.net.Name),
		slog.String("method", ex.method), slog.Int("calls", ex.calls), slog.String("node", ex.node),
		slog.Int("tries", ex.tries), slog.String("status", ex.status), slog.Int("size", ex.size),
		slog.String("class", ex.class.String()), slog.Duration("duration", d), slog.String("key", ex.caller.Name()),
	}
	n := len(attrs)
	if ex.caller.Name() == "" {
		n-- // no key: the line as without access checks
	}
	// One line per request: it may wait in the log's buffer (logbuf).
	ex.h.log.LogAttrs(logbuf.Later, level, "request completed", attrs[:n]...)
}

// lateTry is how long after its request a try checks first that the
// client is still there: a call that waited in the queue or for earlier
// tries. A prompt try skips the check, a system call.
const lateTry = 50 * time.Millisecond

// peerLeft reports that the fast server's client closed its connection
// while its call waited: the try is then not sent.
func (ex *exchange) peerLeft() bool {
	return ex.peer != nil && time.Since(ex.start) > lateTry && peerClosed(ex.peer)
}

// attempt runs the retry loop around try: each failed try that is the node's
// fault moves to a different node, up to the network's retries, inside ctx.
// try returns nil when the call is answered (successfully or with the
// method's own error); its error otherwise.
//
// try's ctx is ctx, or when the request is traced, ctx carrying the
// try's own span (see startTry).
func (ex *exchange) attempt(ctx context.Context, need balancer.Need, try func(ctx context.Context, n *upstream.Node) error) error {
	tried := ex.triedBuf[:0]
	var failures []error
	var refused []string // nodes that refused the request as too large for them
	missing := 0         // nodes that answered "method not found"
	for i := 0; i <= ex.net.Retries; i++ {
		// Every node refused the request as too large or does not serve
		// its method: none will take it on a second round.
		final := len(tried) > 0 && len(refused)+missing == len(failures)
		if i > 0 {
			if final && !ex.net.Pool.HasCandidate(tried, need) {
				break // before the backoff: no retry is made
			}
			if err := backoff(ctx, i); err != nil {
				break
			}
			ex.h.countRetry(ex.net)
		}
		n, err := ex.acquire(ctx, i > 0, tried, need)
		if errors.Is(err, ErrNoNode) && final {
			break
		}
		if errors.Is(err, ErrNoNode) && len(tried) > 0 {
			// Every node was tried: go round again rather than give up early.
			tried = tried[:0]
			n, err = ex.acquire(ctx, true, tried, need)
		}
		if err != nil {
			if len(failures) == 0 || !errors.Is(err, ErrNoNode) {
				failures = append(failures, err)
			}
			var nw *NodesWaitingError
			if errors.As(err, &nw) {
				ex.retryAfter = nw.Wait
			}
			break
		}
		ex.tries++
		ex.node, ex.by = n.Name, n
		tryStart := time.Now()
		ex.tried = tried
		tctx, tspan := ctx, trace.Span(nil)
		if ex.tr != nil {
			tctx, tspan = ex.startTry(ctx, n, ex.tries, false)
		}
		switch {
		case ex.peerLeft():
			err = &upstream.Error{Kind: upstream.KindCanceled, Node: n.Name, Err: errClientGone}
		case ex.watchesClient():
			err = ex.tryWatched(tctx, n, try)
		default:
			err = try(tctx, n)
		}
		judged, by := err, n // what n is judged on, and the node that answered: a hedged try may be answered by another node
		if hr, ok := err.(*hedgeResult); ok {
			judged, err = hr.primary, hr.call
			if hr.by != nil {
				by = hr.by
			}
		}
		same := err == judged
		if judged != nil {
			judged = budgetSpent(ctx, tryStart, ex.times.try, judged)
		}
		if same {
			err = judged
		} else if err != nil {
			err = budgetSpent(ctx, tryStart, ex.times.try, err)
		}
		ex.net.Sched.Release(n)
		ex.net.Health.Observe(n, judged)
		ex.h.countTry(ex.net, n, judged)
		if tspan != nil {
			endTry(tspan, judged)
		}
		if ex.avoid != nil {
			tried = append(tried, ex.avoid)
			ex.avoid = nil
		}
		if err == nil {
			ex.by = by
			ex.answered(by)
			return nil
		}
		var ue *upstream.Error
		if errors.As(err, &ue) {
			switch ue.Kind {
			case upstream.KindCanceled:
				return gone(ctx)
			case upstream.KindTooLarge:
				// Every node would send the same answer: tell the client.
				return jsonrpc.NewError(jsonrpc.CodeAnswerTooLarge, "answer too large: "+ue.Err.Error()+
					": ask for less (a smaller block range, fewer calls per batch)")
			case upstream.KindRequestTooLarge:
				// Not the node's fault; another node (a provider behind a
				// local node, say) may take a larger request.
				refused = append(refused, ue.Node+" ("+ue.Err.Error()+")")
			case upstream.KindMethodMissing:
				missing++
			}
		}
		failures = append(failures, err)
		tried = append(tried, n)
	}
	if len(refused) > 0 && len(refused) == len(failures) {
		return jsonrpc.NewError(jsonrpc.CodeTooLarge, "request too large: every node tried refused it: "+strings.Join(refused, "; ")+
			": send a smaller request (split a batch into smaller ones)")
	}
	return ex.finalError(ctx, failures)
}

// budgetSpent turns a timeout that the call's own deadline imposed into
// KindDeadline: when queueing and earlier tries left less than rpc_timeout
// of request_timeout, the gateway's budget ran out, which says nothing of
// the node (an overloaded gateway must not mark its nodes down).
func budgetSpent(ctx context.Context, start time.Time, tryTimeout time.Duration, err error) error {
	var ue *upstream.Error
	if !errors.As(err, &ue) || ue.Kind != upstream.KindTimeout {
		return err
	}
	if d, ok := ctx.Deadline(); ok && d.Before(start.Add(tryTimeout)) {
		return &upstream.Error{Kind: upstream.KindDeadline, Node: ue.Node, Err: ue.Err}
	}
	return err
}

// backoff waits a little before retry i (5ms, 10ms, 20ms … capped at 100ms).
func backoff(ctx context.Context, i int) error {
	d := time.Duration(5<<min(i-1, 5)) * time.Millisecond
	if d > 100*time.Millisecond {
		d = 100 * time.Millisecond
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
