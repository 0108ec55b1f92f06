package proxy

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"sync/atomic"

	"github.com/evmgate/evmgate/internal/balancer"
	"github.com/evmgate/evmgate/internal/jsonrpc"
	"github.com/evmgate/evmgate/internal/logsplit"
	"github.com/evmgate/evmgate/internal/upstream"
)

// splitLogs answers an eth_getLogs call whose range the network's splitter
// refuses or cuts into chunks, and reports whether it did; false: the call
// goes to a node whole, the usual way.
func (ex *exchange) splitLogs(ctx context.Context, c *jsonrpc.Call, body []byte) bool {
	sp := ex.net.Logs
	if sp == nil {
		return false
	}
	plan := sp.Plan(c.Params, ex.net.Pool.View().Head)
	if plan.Err != nil {
		ex.writeError(plan.Err, c.ID)
		return true
	}
	if len(plan.Chunks) == 0 {
		return false
	}
	lf := &logFetch{ex: ex, plan: &plan, body: body, limit: ex.h.options().MaxAnswerBytes}
	logs, err := sp.Run(ctx, &plan, int(lf.limit), lf.fetch)
	ex.tries += int(lf.tries.Load())
	if n, ok := lf.node.Load().(string); ok {
		ex.node = n
	}
	// The client's call sent whole is one node's answer, kept as such by
	// cachedSingle; answers stitched from chunks are not kept whole (each
	// chunk is, as its own node's answer).
	ex.by = lf.whole.Load()
	var ae *logsplit.AnswerError
	var je *jsonrpc.Error
	switch {
	case err == nil:
		ex.writeLogs(logs, c.ID)
	case errors.As(err, &ae):
		var scan jsonrpc.ResponseScan
		scan.Scan(ae.Answer, true)
		ex.writeBody(scan.WithID(ae.Answer, c.ID), "rpc_error")
	case errors.As(err, &je):
		ex.writeError(je, c.ID)
	case errors.Is(err, errClientGone):
		ex.status = "client_gone"
	default:
		ex.waitFailed(ctx, c, err) // a timeout or a client gone, told as for any call
	}
	return true
}

// logsRefused is the error of a batch's eth_getLogs call over the
// network's max_logs_block_range (nil: none). The calls of a batch are
// not split: they go to the node with the batch.
func (ex *exchange) logsRefused(c *jsonrpc.Call) *jsonrpc.Error {
	if c.Method != "eth_getLogs" || ex.net.Logs == nil {
		return nil
	}
	return ex.net.Logs.Plan(c.Params, ex.net.Pool.View().Head).Err
}

// writeLogs answers with the stitched logs, written piece by piece from
// the nodes' answers.
func (ex *exchange) writeLogs(l *logsplit.Logs, id []byte) {
	hdr := ex.w.Header()
	hdr["Content-Type"] = jsonHeader
	hdr["Content-Length"] = []string{strconv.Itoa(l.Size(id))}
	ex.w.WriteHeader(http.StatusOK)
	ex.status = "ok"
	ex.size, _ = l.WriteTo(ex.w, id)
}

// logFetch fetches the chunks of one eth_getLogs call, each through the
// usual node choice and retries, finalized chunks through the cache.
type logFetch struct {
	ex    *exchange
	plan  *logsplit.Plan
	body  []byte // the client's request, sent for a plan of one whole chunk
	limit int64
	tries atomic.Int64
	node  atomic.Value // string: the last node asked
	// whole is the node that answered the client's call sent whole (a
	// chunk with Whole set); nil when the call was split.
	whole atomic.Pointer[upstream.Node]
}

var chunkIDs = []byte(`1`)

// fetch answers chunk ch from the cache, from an identical chunk in flight
// (another call over the same aligned range), or from a node; see
// logsplit.Fetch.
func (lf *logFetch) fetch(ctx context.Context, ch logsplit.Chunk) ([]byte, error) {
	if ch.Whole {
		// The whole call, kept and shared by cachedSingle.
		resp, from, err := lf.ask(ctx, ch, lf.body)
		if err == nil {
			lf.whole.Store(from)
		}
		return resp, err
	}
	req := lf.plan.AppendRequest(make([]byte, 0, len(lf.body)+64), ch, chunkIDs)
	cn := lf.ex.net.Cache
	if cn == nil {
		resp, _, err := lf.ask(ctx, ch, req)
		return resp, err
	}
	calls, _, perr := jsonrpc.Parse(req)
	if perr != nil {
		resp, _, err := lf.ask(ctx, ch, req)
		return resp, err
	}
	cc := cn.Prepare(&calls[0])
	if out, ok := cn.Get(&cc, chunkIDs, nil); ok {
		return out, nil
	}
	if !cc.Shared() {
		resp, _, err := lf.ask(ctx, ch, req)
		return resp, err
	}
	f, leader := cn.Join(&cc, uint8(lf.ex.class))
	if !leader {
		out, ok, err := f.Wait(ctx, cn, &cc, chunkIDs, nil)
		if err != nil || ok {
			return out, err
		}
		resp, _, err := lf.ask(ctx, ch, req) // the leader failed: ask by itself
		return resp, err
	}
	resp, from, err := lf.ask(ctx, ch, req)
	if err == nil {
		cn.Put(&cc, resp, from)
	}
	cn.Finish(&cc, f, resp)
	return resp, err
}

// ask sends req for chunk ch through the usual node choice and retries,
// and returns the node's whole answer and that node.
func (lf *logFetch) ask(ctx context.Context, ch logsplit.Chunk, req []byte) ([]byte, *upstream.Node, error) {
	sub := &exchange{h: lf.ex.h, net: lf.ex.net, start: lf.ex.start, class: lf.ex.class, reqID: lf.ex.reqID,
		method: lf.ex.method, tr: lf.ex.tr, times: lf.ex.times}
	var resp []byte
	err := sub.attempt(ctx, balancer.Need{MinHead: ch.To, Method: "eth_getLogs"}, func(ctx context.Context, n *upstream.Node) error {
		lf.node.Store(n.Name)
		tctx, cancel := n.TryContext(ctx, lf.ex.times.try)
		defer cancel()
		out, err := n.CallLimit(tctx, req, lf.limit)
		if err != nil {
			return err
		}
		var scan jsonrpc.ResponseScan
		if scan.Scan(out, true) == jsonrpc.Failure {
			if e := jsonrpc.ErrorOf(out); e != nil && !logsplit.TooMany(e.Message) &&
				upstream.Unavailable(e.Code, e.Message, n.Head() < lf.ex.net.Pool.View().Head) {
				coolOnRateLimit(n, e.Code, e.Message)
				return &upstream.Error{Kind: upstream.KindUnavailable, Node: n.Name, Err: errors.New(e.Message)}
			}
		}
		resp = out
		return nil
	})
	lf.tries.Add(int64(sub.tries))
	var je *jsonrpc.Error
	if errors.As(err, &je) && je.Code == jsonrpc.CodeAnswerTooLarge {
		return nil, nil, errors.Join(logsplit.ErrTooLarge, err)
	}
	return resp, sub.by, err
}

var _ logsplit.Fetch = (*logFetch)(nil).fetch
