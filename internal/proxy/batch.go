package proxy

import (
	"bytes"
	"context"
	"errors"
	"net/http"

	"github.com/evmgate/evmgate/internal/balancer"
	"github.com/evmgate/evmgate/internal/jsonrpc"
	"github.com/evmgate/evmgate/internal/upstream"
)

// batchState tracks a batch's calls across tries.
type batchState struct {
	calls    []jsonrpc.Call
	answers  [][]byte         // per call: its response element (nil: none yet or notification)
	from     []*upstream.Node // per call: the node that gave its answer; nil without a cache
	pending  []int            // calls still to be answered by a node
	missing  [][]byte         // per call: a node's "method not found", answered if no node tried serves it (nil until one)
	verbatim []byte           // the node's whole answer, when it can be passed through as is
	original []byte           // the client's body

	// Room for a batch of up to smallBatch calls, which then allocates
	// none of the above.
	answerBuf  [smallBatch][]byte
	pendingBuf [smallBatch]int
	matchBuf   [smallBatch]*jsonrpc.Element
	elementBuf [smallBatch]jsonrpc.Element
}

const smallBatch = 16

// batch forwards a batch: one upstream batch to one node, and only the calls
// that node could not serve go to another.
func (ex *exchange) batch(ctx context.Context, calls []jsonrpc.Call, body []byte) {
	st := &batchState{calls: calls, original: body}
	if len(calls) <= smallBatch {
		st.answers, st.pending = st.answerBuf[:len(calls)], st.pendingBuf[:0]
	} else {
		st.answers, st.pending = make([][]byte, len(calls)), make([]int, 0, len(calls))
	}
	ccs := ex.batchLookups(st)
	var need balancer.Need
	for i := range calls {
		c := &calls[i]
		if st.answers[i] != nil {
			continue // from the cache
		}
		if c.Err != nil {
			st.answers[i] = c.Err.AppendResponse(nil, c.ID)
			continue
		}
		if e := ex.logsRefused(c); e != nil {
			st.answers[i] = e.AppendResponse(nil, c.ID)
			continue
		}
		if e := ex.notAdmitted(c); e != nil {
			st.answers[i] = e.AppendResponse(nil, c.ID)
			continue
		}
		if len(st.pending) == 0 {
			need.Method = c.Method
		} else if need.Method != c.Method {
			need.Method = "" // a batch of one method goes to nodes that serve it
		}
		st.pending = append(st.pending, i)
		need = ex.need(c, need)
	}
	if need.Method == "" && ex.net.Pool.HasMethodLists() {
		need.Admit = st.admitsPending
	}
	need.Calls = &st.pending // what a node's rate limit counts, retries included
	var err error
	if len(st.pending) > 0 {
		err = ex.attempt(ctx, need, func(ctx context.Context, n *upstream.Node) error { return ex.tryBatch(ctx, n, st) })
	}
	if errors.Is(err, errClientGone) {
		ex.status = "client_gone"
		return
	}
	ex.batchFill(st, ccs)
	var gerr *jsonrpc.Error
	if err != nil && !errors.As(err, &gerr) {
		gerr = jsonrpc.NewError(jsonrpc.CodeInternal, err.Error())
	}
	if gerr != nil && ex.prio != nil {
		ex.writeError(gerr, nil) // prio-load-balancer answers the whole body
		return
	}
	ex.status = "ok"
	status := http.StatusOK
	if gerr != nil {
		ex.status = "gateway_error"
		failed := 0
		for _, i := range st.pending {
			switch {
			case calls[i].IsNotification():
			case st.missing != nil && st.missing[i] != nil:
				st.answers[i] = st.missing[i]
			default:
				st.answers[i] = gerr.AppendResponse(nil, calls[i].ID)
				failed++
			}
		}
		if gerr.Code == jsonrpc.CodeShuttingDown {
			ex.h.countStopped(failed)
			if len(st.pending) == len(calls) {
				// No call was answered: the client sends the batch again
				// elsewhere, as it would a single call. A batch some of
				// whose calls were answered keeps 200, so that a client
				// that retries a 503 whole never sends those again (a
				// transaction that went through, sent twice).
				status = http.StatusServiceUnavailable
				ex.w.Header()["Retry-After"] = shutdownRetryAfter
			}
		}
	}
	ex.writeBatch(st, status)
}

// admitsPending reports whether n's methods lists admit a call still
// pending: a node that admits none is not sent the batch.
func (st *batchState) admitsPending(n *upstream.Node) bool {
	for _, i := range st.pending {
		if n.Admits(st.calls[i].Method) {
			return true
		}
	}
	return false
}

// keepMissing keeps the first "method not found" a node answered call i.
func (st *batchState) keepMissing(i int, answer []byte) {
	if st.missing == nil {
		st.missing = make([][]byte, len(st.calls))
	}
	if st.missing[i] == nil {
		st.missing[i] = answer
	}
}

// holdNotAdmitted takes from the pending calls those whose method n's
// methods lists do not admit: they are left for other nodes.
func (st *batchState) holdNotAdmitted(n *upstream.Node) (held []int) {
	if n.Methods == nil {
		return nil
	}
	kept := make([]int, 0, len(st.pending))
	for _, i := range st.pending {
		if n.Admits(st.calls[i].Method) {
			kept = append(kept, i)
		} else {
			held = append(held, i)
		}
	}
	if len(held) > 0 {
		st.pending = kept
	}
	return held
}

// writeBatch answers the batch with status (200 unless the gateway shuts
// down under it).
func (ex *exchange) writeBatch(st *batchState, status int) {
	out := st.verbatim
	if out == nil {
		out = make([]byte, 0, 256)
		out = append(out, '[')
		for _, a := range st.answers {
			if a == nil {
				continue
			}
			if len(out) > 1 {
				out = append(out, ',')
			}
			out = append(out, a...)
		}
		out = append(out, ']')
		if len(out) == 2 {
			out = out[:0] // only notifications: nothing to answer
		}
	}
	ex.w.Header()["Content-Type"] = jsonHeader
	ex.w.WriteHeader(status)
	ex.size, _ = ex.w.Write(out)
}

// tryBatch sends the pending calls to n and keeps the answers it can.
func (ex *exchange) tryBatch(ctx context.Context, n *upstream.Node, st *batchState) error {
	held := st.holdNotAdmitted(n)
	if len(st.pending) == 0 {
		st.pending = held
		return &upstream.Error{Kind: upstream.KindMethodMissing, Node: n.Name, Err: errors.New("its methods lists admit none of the batch's calls")}
	}
	whole := len(st.pending) == len(st.calls)
	req := st.original
	if !whole {
		req = make([]byte, 0, 64*len(st.pending))
		req = append(req, '[')
		for k, i := range st.pending {
			if k > 0 {
				req = append(req, ',')
			}
			req = append(req, st.calls[i].Raw...)
		}
		req = append(req, ']')
	}
	tctx, cancel := n.TryContext(ctx, ex.times.try)
	defer cancel()
	resp, err := n.CallLimit(tctx, req, ex.h.options().MaxAnswerBytes)
	if err != nil {
		return err
	}
	if len(bytes.TrimSpace(resp)) == 0 && onlyNotifications(st) {
		st.pending = st.pending[:0] // nothing was due: nodes answer such a batch with an empty body
		return nil
	}
	els, err := jsonrpc.SplitBatchAppend(st.elementBuf[:0], resp)
	if err != nil {
		if e := jsonrpc.ErrorOf(resp); e != nil {
			coolOnRateLimit(n, e.Code, e.Message)
			return &upstream.Error{Kind: upstream.KindUnavailable, Node: n.Name, Err: errors.New("batch refused: " + e.Message)}
		}
		return &upstream.Error{Kind: upstream.KindMalformed, Node: n.Name, Err: errors.New("answer to a batch is not a JSON array")}
	}
	matched, inOrder := match(st, els)
	behind := n.Head() < ex.net.Pool.View().Head
	still := st.pending[:0] // filtered in place: still is never ahead of k
	onlyMissing := true     // every call left is one whose method n does not serve
	for k, i := range st.pending {
		el := matched[k]
		switch {
		case el == nil && st.calls[i].IsNotification():
		case el == nil:
			still = append(still, i)
			onlyMissing = false
		case el.Err != nil && learnsMissing(st.calls[i].Method) && upstream.MethodMissing(el.Err.Code, el.Err.Message) &&
			ex.learnMissing(n, st.calls[i].Method):
			still = append(still, i) // as for a single call (rpcError): another node may serve it
			st.keepMissing(i, el.WithID(st.calls[i].ID))
		case el.Err != nil && !upstream.MethodMissing(el.Err.Code, el.Err.Message) && upstream.Unavailable(el.Err.Code, el.Err.Message, behind):
			onlyMissing = false
			coolOnRateLimit(n, el.Err.Code, el.Err.Message)
			if upstream.StateMissing(el.Err.Message) {
				n.LearnState(upstream.StateFull)
			}
			still = append(still, i)
		default:
			st.answers[i] = el.WithID(st.calls[i].ID)
			if st.from != nil {
				st.from[i] = n
			}
			ex.observeElement(n, &st.calls[i], el.Raw)
			if el.Err == nil && jsonrpc.FilterNew(st.calls[i].Method) {
				var scan jsonrpc.ResponseScan
				if scan.Scan(el.Raw, true) == jsonrpc.Result {
					ex.noteFilter(n, scan.ResultValue(el.Raw))
				}
			}
		}
	}
	if len(still) < len(st.pending) {
		ex.answered(n) // some answers are n's, whatever node answers the rest
	}
	if whole && inOrder && len(still) == 0 && len(els) == len(st.calls) {
		st.verbatim = resp
	}
	st.pending = append(still, held...)
	switch {
	case len(st.pending) == 0:
	case onlyMissing:
		return &upstream.Error{Kind: upstream.KindMethodMissing, Node: n.Name, Err: errors.New("the batch's other calls are for methods it does not serve, or that its methods lists refuse")}
	default:
		return &upstream.Error{Kind: upstream.KindUnavailable, Node: n.Name, Err: errors.New("some calls of the batch are not available on this node")}
	}
	return nil
}

// match pairs each pending call with its response element: by position when
// the ids line up byte for byte (the common case), otherwise by id, also
// when the node re-encoded it.
func match(st *batchState, els []jsonrpc.Element) (matched []*jsonrpc.Element, inOrder bool) {
	if len(st.pending) <= smallBatch {
		matched = st.matchBuf[:len(st.pending)]
		clear(matched)
	} else {
		matched = make([]*jsonrpc.Element, len(st.pending))
	}
	inOrder = true
	k := 0
	for p, i := range st.pending {
		c := &st.calls[i]
		if c.IsNotification() {
			continue
		}
		if k >= len(els) || !bytes.Equal(els[k].ID, c.ID) {
			inOrder = false
			break
		}
		matched[p] = &els[k]
		k++
	}
	if inOrder {
		return matched, true
	}
	clear(matched)
	used := make([]bool, len(els))
	for p, i := range st.pending {
		c := &st.calls[i]
		if c.IsNotification() {
			continue
		}
		for e := range els {
			if !used[e] && jsonrpc.SameID(els[e].ID, c.ID) {
				used[e], matched[p] = true, &els[e]
				break
			}
		}
	}
	return matched, false
}

// onlyNotifications reports whether no pending call expects an answer.
func onlyNotifications(st *batchState) bool {
	for _, i := range st.pending {
		if !st.calls[i].IsNotification() {
			return false
		}
	}
	return true
}
