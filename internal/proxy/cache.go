package proxy

import (
	"context"
	"io"
	"net/http"
	"strconv"

	"github.com/evmgate/evmgate/internal/cache"
	"github.com/evmgate/evmgate/internal/jsonrpc"
	"github.com/evmgate/evmgate/internal/upstream"
)

// joinRounds is how many flights a call may wait for before it goes to a
// node by itself: a follower whose leader failed joins (or leads) one more
// flight, so a failed leader does not release every follower at once.
const joinRounds = 2

var (
	cacheHit  = []string{"HIT"}
	cacheMiss = []string{"MISS"}
)

// cachedSingle answers a single call from the cache, from an identical call
// in flight, or from a node, keeping the node's answer when it may be kept.
func (ex *exchange) cachedSingle(ctx context.Context, c *jsonrpc.Call, body []byte) {
	cn := ex.net.Cache
	cc := cn.Prepare(c)
	if !cc.Shared() || ex.pinned(c) {
		ex.single(ctx, c, body)
		return
	}
	if cc.Cacheable() {
		if a, ok := cn.Lookup(&cc); ok {
			ex.writeHit(a, c.ID)
			return
		}
		ex.w.Header()["X-Cache"] = cacheMiss
		if ex.tr != nil {
			ex.tr.cache = "miss"
		}
	}
	for range joinRounds {
		f, leader := cn.Join(&cc, uint8(ex.class))
		if leader {
			ex.lead(ctx, c, body, &cc, f)
			return
		}
		out, ok, err := f.Wait(ctx, cn, &cc, c.ID, nil)
		if err != nil {
			ex.waitFailed(ctx, c, err)
			return
		}
		if ok {
			ex.writeBody(out, sharedStatus(out))
			return
		}
	}
	ex.lead(ctx, c, body, &cc, nil)
}

// writeHit answers with a kept answer, written in place from the cache.
func (ex *exchange) writeHit(a cache.Answer, id []byte) {
	hdr := ex.w.Header()
	hdr["X-Cache"] = cacheHit
	if ex.tr != nil {
		ex.tr.cache = "hit"
	}
	hdr["Content-Type"] = jsonHeader
	hdr["Content-Length"] = []string{strconv.Itoa(a.Size(id))}
	ex.w.WriteHeader(http.StatusOK)
	ex.status = "ok"
	ex.size, _ = a.WriteTo(ex.w, id)
}

// lead asks a node, keeps the answer when it may be kept and hands it to
// the followers of f (nil: the call is alone).
func (ex *exchange) lead(ctx context.Context, c *jsonrpc.Call, body []byte, cc *cache.Call, f *cache.Flight) {
	t := &tee{ResponseWriter: ex.w, limit: ex.net.Cache.MaxItemBytes()}
	var shared []byte
	if f != nil {
		defer func() { ex.net.Cache.Finish(cc, f, shared) }()
	}
	ex.w = t
	ex.single(ctx, c, body)
	ex.w = t.ResponseWriter
	if t.over || t.status != http.StatusOK {
		return
	}
	switch ex.status {
	case "ok":
		ex.net.Cache.Put(cc, t.buf, ex.by)
		shared = t.buf
	case "rpc_error":
		shared = t.buf // the method's own answer, the same on any node
	}
}

// waitFailed answers a follower whose own deadline passed (or whose client
// left) before the leader's answer came.
func (ex *exchange) waitFailed(ctx context.Context, c *jsonrpc.Call, err error) {
	ferr := ex.finalError(ctx, []error{err})
	var e *jsonrpc.Error
	if je, ok := ferr.(*jsonrpc.Error); ok {
		e = je
	}
	if e == nil {
		ex.status = "client_gone"
		return
	}
	ex.writeError(e, c.ID)
}

// sharedStatus is the status a shared answer is counted under.
func sharedStatus(resp []byte) string {
	if jsonrpc.ErrorOf(resp) != nil {
		return "rpc_error"
	}
	return "ok"
}

// tee passes a response through to the client and keeps a copy of its body
// up to limit bytes.
type tee struct {
	http.ResponseWriter
	limit  int
	buf    []byte
	over   bool
	status int
}

func (t *tee) WriteHeader(s int) {
	t.status = s
	t.ResponseWriter.WriteHeader(s)
}

func (t *tee) Write(p []byte) (int, error) {
	if t.status == 0 {
		t.status = http.StatusOK
	}
	if !t.over {
		if len(t.buf)+len(p) > t.limit {
			t.over, t.buf = true, nil
		} else {
			t.buf = append(t.buf, p...)
		}
	}
	return t.ResponseWriter.Write(p)
}

// ReadFrom keeps io.Copy from allocating a buffer per streamed answer.
func (t *tee) ReadFrom(r io.Reader) (int64, error) { return copyPooled(t, r) }

// Retake takes the answer back from the writer under the tee, and forgets
// the copy, when that writer can.
func (t *tee) Retake() bool {
	if r, ok := t.ResponseWriter.(retaker); !ok || !r.Retake() {
		return false
	}
	t.buf, t.over, t.status = t.buf[:0], false, 0
	return true
}

// Unwrap gives the writer under the tee (see writerAs).
func (t *tee) Unwrap() http.ResponseWriter { return t.ResponseWriter }

// batchLookups answers the calls of a batch it can from the cache and
// returns each call's standing for batchFill (nil when the cache is off).
func (ex *exchange) batchLookups(st *batchState) []cache.Call {
	cn := ex.net.Cache
	if cn == nil {
		return nil
	}
	ccs := make([]cache.Call, len(st.calls))
	st.from = make([]*upstream.Node, len(st.calls))
	for i := range st.calls {
		c := &st.calls[i]
		if c.Err != nil {
			continue // answered with its error, never from the cache
		}
		ccs[i] = cn.Prepare(c)
		if out, ok := cn.Get(&ccs[i], c.ID, nil); ok {
			st.answers[i] = out
			ccs[i] = cache.Call{} // answered: nothing to keep
		}
	}
	return ccs
}

// batchFill keeps the answers nodes gave to a batch's calls, each as the
// answer of the node that gave it.
func (ex *exchange) batchFill(st *batchState, ccs []cache.Call) {
	for i := range ccs {
		if st.answers[i] != nil && ccs[i].Cacheable() {
			ex.net.Cache.Put(&ccs[i], st.answers[i], st.from[i])
		}
	}
}
