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

	"github.com/evmgate/evmgate/internal/jsonrpc"
	"github.com/evmgate/evmgate/internal/upstream"
	"golang.org/x/crypto/sha3"
)

// single forwards one call. A result is streamed to the client as soon as
// its first bytes are seen; errors are buffered and classified.
func (ex *exchange) single(ctx context.Context, c *jsonrpc.Call, body []byte) {
	minHead, _ := c.BlockNumber()
	sendTx := jsonrpc.Info(c.Method).SendTx
	err := ex.attempt(ctx, minHead, func(n *upstream.Node) error {
		return ex.trySingle(ctx, n, c, body, sendTx && ex.tries > 1)
	})
	if err == nil {
		return
	}
	if ex.fallback != nil && !errors.Is(err, errClientGone) {
		// No node had better: the lagging node's answer is the client's.
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

const prefixSize = 4 << 10

func (ex *exchange) trySingle(ctx context.Context, n *upstream.Node, c *jsonrpc.Call, body []byte, retriedTx bool) error {
	tctx, cancel := n.TryContext(ctx, ex.net.TryTimeout)
	defer cancel()
	resp, err := n.Do(tctx, body)
	if err != nil {
		return err
	}
	defer resp.Close()

	bp := bufPool.Get().(*[]byte)
	defer bufPool.Put(bp)
	buf := (*bp)[:cap(*bp)]
	filled, outcome, rerr := readPrefix(resp.Body, buf[:prefixSize])
	if rerr != nil {
		return &upstream.Error{Kind: upstream.KindTransport, Node: n.Name, Err: rerr}
	}
	switch outcome {
	case jsonrpc.Result:
		if jsonrpc.Info(c.Method).ByHash && n.Head() < ex.net.Pool.View().Head && jsonrpc.ResultIsNull(buf[:filled]) {
			// A node behind the head may not have seen that block or
			// transaction yet: ask a node at the head, keep this answer.
			full, err := readRest(resp.Body, buf[:filled])
			if err == nil {
				ex.fallback = bytes.Clone(full)
			}
			return &upstream.Error{Kind: upstream.KindUnavailable, Node: n.Name, Err: errors.New("null from a node behind the head")}
		}
		return ex.stream(n, resp, buf[:filled])
	case jsonrpc.Failure:
		full, err := readRest(resp.Body, buf[:filled])
		if err != nil {
			return &upstream.Error{Kind: upstream.KindTransport, Node: n.Name, Err: err}
		}
		return ex.rpcError(n, c, full, retriedTx)
	}
	if filled == 0 && c.IsNotification() {
		ex.status = "ok"
		ex.w.WriteHeader(http.StatusOK)
		return nil
	}
	return &upstream.Error{Kind: upstream.KindMalformed, Node: n.Name,
		Err: fmt.Errorf("answer is not a JSON-RPC response: %.80q", buf[:filled])}
}

// readPrefix reads until the response shows a result or an error, the buffer
// is full, or the body ends.
func readPrefix(r io.Reader, buf []byte) (int, jsonrpc.Outcome, error) {
	filled := 0
	for {
		n, err := r.Read(buf[filled:])
		filled += n
		if o := jsonrpc.ScanResponse(buf[:filled]); o != jsonrpc.NeedMore {
			return filled, o, nil
		}
		if errors.Is(err, io.EOF) || filled == len(buf) {
			return filled, jsonrpc.Malformed, nil
		}
		if err != nil {
			return filled, jsonrpc.Malformed, err
		}
	}
}

func readRest(r io.Reader, prefix []byte) ([]byte, error) {
	var b bytes.Buffer
	b.Write(prefix)
	_, err := b.ReadFrom(io.LimitReader(r, 1<<20))
	return b.Bytes(), err
}

// stream writes the node's answer to the client: the prefix already read,
// then the rest as it arrives.
func (ex *exchange) stream(n *upstream.Node, resp *upstream.Response, prefix []byte) error {
	hdr := ex.w.Header()
	hdr["Content-Type"] = jsonHeader
	if resp.ContentLength > 0 {
		hdr["Content-Length"] = contentLength(resp.ContentLength)
	}
	ex.w.WriteHeader(http.StatusOK)
	ex.status = "ok"
	w, _ := ex.w.Write(prefix)
	ex.size = w
	if resp.ContentLength >= 0 && int64(len(prefix)) >= resp.ContentLength {
		return nil
	}
	cp, err := io.Copy(ex.w, resp.Body)
	ex.size += int(cp)
	if err != nil {
		// Headers are gone: nothing can be retried. The client sees a cut
		// answer; the node is not blamed for a client that went away.
		ex.status = "stream_error"
	}
	return nil
}

// rpcError handles a node's JSON-RPC error answer: errors meaning "not on this
// node now" are retried elsewhere; the method's own errors go to the client.
func (ex *exchange) rpcError(n *upstream.Node, c *jsonrpc.Call, full []byte, retriedTx bool) error {
	e := jsonrpc.ErrorOf(full)
	if e != nil && retriedTx && alreadyKnown(e.Message) {
		// The first try reached a node: the transaction is in a pool. Its hash is the answer.
		return ex.writeTxHash(c)
	}
	if e != nil && upstream.Unavailable(e.Code, e.Message, n.Head() < ex.net.Pool.View().Head) {
		if ex.fallback == nil && upstream.Behind(e.Message) {
			ex.fallback = bytes.Clone(full) // the node's own answer, if no node has the block
		}
		return &upstream.Error{Kind: upstream.KindUnavailable, Node: n.Name, Err: errors.New(e.Message)}
	}
	ex.writeBody(full, "rpc_error")
	return nil
}

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
// transaction, which is its hash.
func (ex *exchange) writeTxHash(c *jsonrpc.Call) error {
	raw := firstStringParam(c.Params)
	b, err := hex.DecodeString(strings.TrimPrefix(raw, "0x"))
	if err != nil {
		return &upstream.Error{Kind: upstream.KindMalformed, Node: ex.node, Err: err}
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
	return nil
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
