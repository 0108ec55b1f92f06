package proxy

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/evmgate/evmgate/internal/balancer"
	"github.com/evmgate/evmgate/internal/hedge"
	"github.com/evmgate/evmgate/internal/jsonrpc"
	"github.com/evmgate/evmgate/internal/upstream"
	"go.opentelemetry.io/otel/trace"
	"golang.org/x/crypto/sha3"
)

// single forwards one call. A result is streamed to the client as soon as
// its first bytes are seen; errors are buffered and classified. On a
// network that hedges, a read goes through tryHedged instead (hedge.go).
func (ex *exchange) single(ctx context.Context, c *jsonrpc.Call, body []byte) {
	if e := ex.notAdmitted(c); e != nil {
		// Answered as a node answers a method it lacks, on prio-load-balancer
		// paths too (where the gateway's own failures are plain text).
		ex.writeBody(e.AppendResponse(nil, c.ID), "rpc_error")
		return
	}
	if c.Method == "eth_getLogs" && ex.splitLogs(ctx, c, body) {
		return
	}
	need := ex.need(c, balancer.Need{Method: c.Method})
	sendTx := jsonrpc.Info(c.Method).SendTx
	// A call pinned to one node (a client's own transaction) is not copied,
	// nor a slow method's (its method_timeouts entry): it would be copied
	// every time, past max_delay, doubling the heaviest load.
	hedged := ex.net.Hedge != nil && hedge.Hedgeable(c.Method) && need.Node == nil && !ex.times.slow
	err := ex.attempt(ctx, need, func(ctx context.Context, n *upstream.Node) error {
		if hedged {
			return ex.tryHedged(ctx, n, c, body, need)
		}
		return ex.trySingle(ctx, n, c, body, sendTx && ex.tries > 1)
	})
	if err == nil {
		if ex.net.Broadcast && c.Method == "eth_sendRawTransaction" && ex.status == "ok" {
			ex.broadcast(c, body, ex.by)
		}
		return
	}
	if ex.fallback != nil && !errors.Is(err, errClientGone) {
		// No node had better: the lagging node's answer is the client's
		// (not by's: never kept).
		ex.by = nil
		status := "ok"
		if jsonrpc.ErrorOf(ex.fallback) != nil {
			status = "rpc_error"
		}
		ex.writeBody(ex.fallback, status)
		return
	}
	var e *jsonrpc.Error
	if errors.As(err, &e) {
		ex.writeError(e, c.ID)
		return
	}
	ex.status = "client_gone"
}

// prefixSize is the first part of an answer read to classify it: most
// answers are classified, or whole, within it.
const prefixSize = 4 << 10

// tryAnswer is one try's answer, read until its prefix classifies it.
type tryAnswer struct {
	n       *upstream.Node
	tctx    context.Context
	cancel  context.CancelFunc
	resp    *upstream.Response // nil when the try failed before an answer
	bp      *[]byte            // the pooled buffer prefix was read into
	prefix  []byte
	scan    jsonrpc.ResponseScan
	outcome jsonrpc.Outcome
	err     error // the try failed before its answer was classified

	took time.Duration // hedged tries: until classified, failed or given up
	stop context.CancelFunc
	span trace.Span // a traced hedged copy's span
}

func (ex *exchange) trySingle(ctx context.Context, n *upstream.Node, c *jsonrpc.Call, body []byte, retriedTx bool) error {
	var a tryAnswer
	openTry(ctx, n, body, &a, ex.times.try, int(ex.h.options().MaxAnswerBytes), false)
	defer a.close()
	if a.err != nil {
		return a.err
	}
	return ex.finish(&a, c, retriedTx)
}

// openTry sends body to n and reads the answer until it is classified,
// holding at most limit bytes of it. An interruptible try may be cancelled
// while the node has not answered. It takes no exchange: a hedged try runs
// it in a goroutine of its own.
func openTry(ctx context.Context, n *upstream.Node, body []byte, a *tryAnswer, timeout time.Duration, limit int, interruptible bool) {
	a.n = n
	a.tctx, a.cancel = n.TryContext(ctx, timeout)
	tctx := a.tctx
	if interruptible {
		tctx = upstream.Interruptible(tctx)
	}
	resp, err := n.Do(tctx, body)
	if err != nil {
		a.err = err
		return
	}
	a.resp = resp
	a.bp = bufPool.Get().(*[]byte)
	a.prefix, a.outcome, err = readPrefix(resp.Body, (*a.bp)[:0], limit, &a.scan)
	if err != nil {
		a.err = upstream.ReadError(a.tctx, n.Name, err)
	}
}

// close releases the answer, its buffer and its context.
func (a *tryAnswer) close() {
	if a.resp != nil {
		a.resp.Close()
		a.resp = nil
	}
	if a.bp != nil {
		bufPool.Put(a.bp)
		a.bp = nil
	}
	if a.cancel != nil {
		a.cancel()
	}
	if a.stop != nil {
		a.stop()
	}
}

// nullMayBeGap reports whether a null result from n may only mean that n
// lacks what c asks for while another node has it: a lookup by hash on a
// node behind the network head (it may not have seen that block or
// transaction yet), or a lookup of a block by number on a node that
// claims that block (routing sent it there for its head) but has a gap:
// a provider's backends out of step, a node that lies about its head.
func (ex *exchange) nullMayBeGap(n *upstream.Node, c *jsonrpc.Call) bool {
	if c.ByHash() {
		return n.Head() < ex.net.Pool.View().Head
	}
	if jsonrpc.Info(c.Method).NullIfMissing {
		num, explicit := c.BlockNumber()
		return explicit && n.Head() >= num // a block past every head goes where it is null: polled, not a gap
	}
	return false
}

// finish answers the client from a classified answer: a result is
// streamed, an error is read whole and classified.
func (ex *exchange) finish(a *tryAnswer, c *jsonrpc.Call, retriedTx bool) error {
	n, prefix, limit := a.n, a.prefix, int(ex.h.options().MaxAnswerBytes)
	switch a.outcome {
	case jsonrpc.Result:
		if a.scan.ResultNull(prefix) && ex.nullMayBeGap(n, c) {
			// The node may lack what the call asks for: ask another, keep
			// this answer for when none has it.
			full, err := readRest(a.resp.Body, prefix, limit)
			if err == nil {
				ex.fallback = bytes.Clone(a.scan.WithID(full, c.ID))
			}
			return &upstream.Error{Kind: upstream.KindUnavailable, Node: n.Name, Err: errors.New("null, where another node may have it")}
		}
		if ex.session != nil && c.Method == "eth_getTransactionReceipt" && a.scan.ResultValue(prefix) == nil {
			// A named client's receipt is read whole: its block ends the pin
			// of the client's transaction (see observe).
			var err error
			if prefix, err = readRest(a.resp.Body, prefix, limit); err != nil {
				return upstream.ReadError(a.tctx, n.Name, err)
			}
		}
		if jsonrpc.FilterNew(c.Method) {
			// The filter's id, read whole, names the node it lives on.
			var err error
			if prefix, err = readRest(a.resp.Body, prefix, limit); err != nil {
				return upstream.ReadError(a.tctx, n.Name, err)
			}
			ex.noteFilter(n, a.scan.ResultValue(prefix))
		}
		if ex.observes(c) { // finding the result's end scans it: only when read
			ex.observe(n, c, a.scan.ResultValue(prefix))
		}
		if err := ex.stream(a.resp, prefix, &a.scan, c.ID); err != nil {
			return upstream.ReadError(a.tctx, n.Name, err) // taken back: the node's fault, tried elsewhere
		}
		return nil
	case jsonrpc.Failure:
		full, err := readRest(a.resp.Body, prefix, limit)
		if err != nil {
			return upstream.ReadError(a.tctx, n.Name, err)
		}
		return ex.rpcError(n, c, a.scan.WithID(full, c.ID), retriedTx)
	case jsonrpc.NeedMore:
		// The members before the result go on past the limit: the call's
		// own doing (an id of that size), not the node's.
		return &upstream.Error{Kind: upstream.KindTooLarge, Node: n.Name,
			Err: fmt.Errorf("%w of %d bytes before its result", upstream.ErrAnswerTooLarge, limit)}
	}
	if len(bytes.TrimSpace(prefix)) == 0 && c.IsNotification() {
		ex.status = "ok"
		ex.w.WriteHeader(http.StatusOK)
		return nil
	}
	return &upstream.Error{Kind: upstream.KindMalformed, Node: n.Name,
		Err: fmt.Errorf("answer is not a JSON-RPC response: %.80q", prefix)}
}

// readPrefix reads an answer until scan classifies it, the answer ends or
// limit bytes are held: NeedMore means the answer's first limit bytes hold
// neither a result nor an error. It reads a first window of prefixSize
// into buf, then grows the window to buf's capacity and then doubles it,
// so an answer whose id or leading members are long is read as far as it
// takes, and a short one costs nothing more.
func readPrefix(r io.Reader, buf []byte, limit int, scan *jsonrpc.ResponseScan) ([]byte, jsonrpc.Outcome, error) {
	window := min(prefixSize, cap(buf), limit)
	for {
		if len(buf) == window {
			if window >= limit {
				return buf, scan.Scan(buf, true), nil
			}
			window = min(max(2*window, cap(buf), prefixSize), limit)
			if window > cap(buf) {
				buf = append(make([]byte, 0, window), buf...)
			}
		}
		n, err := r.Read(buf[len(buf):window])
		buf = buf[:len(buf)+n]
		if o := scan.Scan(buf, err != nil); o != jsonrpc.NeedMore {
			return buf, o, nil
		}
		if errors.Is(err, io.EOF) {
			return buf, jsonrpc.Malformed, nil
		}
		if err != nil {
			return buf, jsonrpc.Malformed, err
		}
	}
}

// readRest reads the rest of an answer after its prefix, into the prefix's
// spare room first. An answer over limit bytes in all is
// upstream.ErrAnswerTooLarge.
func readRest(r io.Reader, buf []byte, limit int) ([]byte, error) {
	for {
		if len(buf) == cap(buf) {
			grown := make([]byte, len(buf), min(max(2*cap(buf), prefixSize), limit+1))
			copy(grown, buf)
			buf = grown
		}
		n, err := r.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		switch {
		case len(buf) > limit:
			return nil, fmt.Errorf("%w of %d bytes", upstream.ErrAnswerTooLarge, limit)
		case errors.Is(err, io.EOF):
			return buf, nil
		case err != nil:
			return nil, err
		}
	}
}

// stream writes the node's answer to the client: the prefix already read,
// then the rest as it arrives. When the node re-encoded the id it echoed,
// the client's own id bytes take its place. An answer the node cuts short
// is taken back when none of it has reached the client (it was held, or
// goes over WebSocket): stream then returns the node's error, and the call
// can be tried elsewhere. Otherwise the client sees it cut.
func (ex *exchange) stream(resp *upstream.Response, prefix []byte, scan *jsonrpc.ResponseScan, id []byte) error {
	head, tail := prefix, []byte(nil)
	length := resp.ContentLength
	if start, end, ok := scan.ID(); ok && id != nil && !bytes.Equal(prefix[start:end], id) {
		head, tail = prefix[:start], prefix[end:]
		if length >= 0 {
			length += int64(len(id) - (end - start))
		}
	}
	hdr := ex.w.Header()
	hdr["Content-Type"] = jsonHeader
	if length > 0 {
		hdr["Content-Length"] = contentLength(length)
	}
	if s, ok := writerAs[streamer](ex.w); ok && (resp.ContentLength < 0 || int64(len(prefix)) < resp.ContentLength) {
		s.Stream(length)
	}
	ex.w.WriteHeader(http.StatusOK)
	ex.status = "ok"
	w, _ := ex.w.Write(head)
	ex.size = w
	if tail != nil {
		w, _ = ex.w.Write(id)
		ex.size += w
		w, _ = ex.w.Write(tail)
		ex.size += w
	}
	if resp.ContentLength >= 0 && int64(len(prefix)) >= resp.ContentLength {
		return nil
	}
	cp, err := io.Copy(ex.w, resp.Body)
	ex.size += int(cp)
	if err != nil {
		if r, ok := ex.w.(retaker); ok && r.Retake() {
			ex.status, ex.size = "", 0
			return err
		}
		// Part of it is gone: nothing can be retried. The client sees a
		// cut answer; the node is not blamed for a client that went away.
		ex.status = "stream_error"
		ex.h.countCut()
		if a, ok := writerAs[aborter](ex.w); ok {
			a.Abort()
		}
	}
	return nil
}

// streamer is a response writer told that the body to come is a node's
// answer of a given length (-1: unknown), copied as it arrives.
type streamer interface{ Stream(length int64) }

// aborter is a response writer that can end an answer the node cut short
// so that the client sees it cut.
type aborter interface{ Abort() }

// retaker is a response writer that can take back the answer written so
// far, when none of it has reached the client: Retake then clears it (the
// status and headers too) and reports true.
type retaker interface{ Retake() bool }

// writerAs finds, in w or the writers it wraps (Unwrap, as
// http.ResponseController does), the first that is a T: the wrappers on
// the way (the cache's copy, the prio-load-balancer headers) need not
// pass each ability on.
func writerAs[T any](w http.ResponseWriter) (T, bool) {
	for {
		if t, ok := w.(T); ok {
			return t, true
		}
		u, ok := w.(interface{ Unwrap() http.ResponseWriter })
		if !ok {
			var zero T
			return zero, false
		}
		w = u.Unwrap()
	}
}

// rpcError handles a node's JSON-RPC error answer: errors meaning "not on this
// node now" are retried elsewhere; the method's own errors go to the client.
func (ex *exchange) rpcError(n *upstream.Node, c *jsonrpc.Call, full []byte, retriedTx bool) error {
	e := jsonrpc.ErrorOf(full)
	if e != nil && retriedTx && alreadyKnown(e.Message) && ex.writeTxHash(c) {
		// The first try reached a node: the transaction is in a pool. Its hash is the answer.
		return nil
	}
	if e != nil && upstream.MethodMissing(e.Code, e.Message) {
		// Another node may serve the method (a mixed pool, a provider's
		// plan); if none does, this node's answer is the client's.
		if learnsMissing(c.Method) && ex.learnMissing(n, c.Method) {
			if ex.fallback == nil {
				ex.fallback = bytes.Clone(full) // the client's answer if no node tried serves it
			}
			return &upstream.Error{Kind: upstream.KindMethodMissing, Node: n.Name, Err: errors.New(e.Message)}
		}
		ex.writeBody(full, "rpc_error")
		return nil
	}
	if e != nil && upstream.Unavailable(e.Code, e.Message, n.Head() < ex.net.Pool.View().Head) {
		coolOnRateLimit(n, e.Code, e.Message)
		if upstream.StateMissing(e.Message) {
			n.LearnState(upstream.StateFull) // a node whose history is detected is a full node
		}
		if ex.fallback == nil && upstream.Behind(e.Message) {
			ex.fallback = bytes.Clone(full) // the node's own answer, if no node has the block
		}
		return &upstream.Error{Kind: upstream.KindUnavailable, Node: n.Name, Err: errors.New(e.Message)}
	}
	ex.writeBody(full, "rpc_error")
	return nil
}

// coolOnRateLimit passes n over for a while (upstream.DefaultCoolDown) when
// its error answer says calls come too fast.
func coolOnRateLimit(n *upstream.Node, code int, message string) {
	if upstream.RateLimitedAnswer(code, message) {
		n.CoolDown(0)
	}
}

// notAdmitted refuses a call whose method no node's methods lists admit:
// it has nowhere to go.
func (ex *exchange) notAdmitted(c *jsonrpc.Call) *jsonrpc.Error {
	if ex.net.Pool.Admits(c.Method) {
		return nil
	}
	return jsonrpc.NewError(jsonrpc.CodeMethodNotFound, fmt.Sprintf("the method %s is not served: the methods lists of network %s's nodes admit it on none", c.Method, ex.net.Name))
}

// learnMissing records that n does not serve method and reports whether
// an eligible node not tried yet may.
func (ex *exchange) learnMissing(n *upstream.Node, method string) bool {
	n.LearnMissing(method)
	return ex.net.Pool.AnyServes(method, ex.tried, n)
}

// learnsMissing reports whether a node's "method not found" for method
// says that the node does not serve it: not for eth_subscribe and
// eth_unsubscribe, which a node answers so over HTTP ("notifications not
// supported") and serves over WebSocket.
func learnsMissing(method string) bool { return !jsonrpc.Info(method).Subscription }

// writeBody answers with a complete body.
func (ex *exchange) writeBody(body []byte, status string) {
	ex.status = status
	ex.w.Header()["Content-Type"] = jsonHeader
	ex.w.WriteHeader(http.StatusOK)
	ex.size, _ = ex.w.Write(body)
}

func alreadyKnown(msg string) bool {
	m := strings.ToLower(msg)
	return strings.Contains(m, "already known") || strings.Contains(m, "known transaction") || strings.Contains(m, "already imported")
}

// writeTxHash answers eth_sendRawTransaction with keccak256 of the raw
// transaction, which is its hash. It reports false, writing nothing, when
// the call's parameter is not hex (the node's own answer then goes back).
func (ex *exchange) writeTxHash(c *jsonrpc.Call) bool {
	raw := firstStringParam(c.Params)
	b, err := hex.DecodeString(strings.TrimPrefix(raw, "0x"))
	if err != nil {
		return false
	}
	h := sha3.NewLegacyKeccak256()
	h.Write(b)
	out := append([]byte(`{"jsonrpc":"2.0","id":`), c.ID...)
	out = append(out, `,"result":"0x`...)
	out = hex.AppendEncode(out, h.Sum(nil))
	out = append(out, `"}`...)
	ex.status = "ok"
	ex.w.Header()["Content-Type"] = jsonHeader
	ex.w.WriteHeader(http.StatusOK)
	ex.size, _ = ex.w.Write(out)
	return true
}

func firstStringParam(params []byte) string {
	i := bytes.IndexByte(params, '"')
	if i < 0 {
		return ""
	}
	j := bytes.IndexByte(params[i+1:], '"')
	if j < 0 {
		return ""
	}
	return string(params[i+1 : i+1+j])
}
