package proxy

import (
	"context"
	"net/http"
	"strings"

	"github.com/evmgate/evmgate/internal/access"
	"github.com/evmgate/evmgate/internal/jsonrpc"
)

// SetAccess installs the client access checks (keys, tokens, method
// policy, rate limits, CORS); nil turns them off.
func (h *Handler) SetAccess(a *access.Access) { h.access.Store(a) }

// splitKey reads /<network>/<key>: a path of two segments whose first
// names a network.
func splitKey(nets map[string]*Network, path string) (n *Network, key string) {
	name, key, ok := strings.Cut(path, "/")
	if !ok || key == "" || strings.Contains(key, "/") {
		return nil, ""
	}
	if n = nets[name]; n == nil {
		return nil, ""
	}
	return n, key
}

// admitRequest runs the checks that need no body: a CORS preflight is
// answered, the caller identified, a browser's POST without a JSON content
// type refused. It returns false when it answered.
func (h *Handler) admitRequest(w http.ResponseWriter, r *http.Request, n *Network, pathKey string) (*access.Caller, bool) {
	var c *access.Caller
	if a := h.access.Load(); a != nil {
		if a.Preflight(w, r, n.Name, pathKey) {
			return nil, false
		}
		var e *jsonrpc.Error
		c, e = a.Identify(r, n.Name, pathKey)
		a.AllowOrigin(w, r, n.Name, c)
		if !refuse(w, e) {
			return nil, false
		}
	}
	if r.Method == http.MethodPost && refuseSimpleBrowserPost(w, r.Header.Get("Origin"), r.Header.Get("Content-Type")) {
		return nil, false
	}
	return c, true
}

// refuse answers a request whose caller access refused (e not nil); it
// reports whether the request may go on.
func refuse(w http.ResponseWriter, e *jsonrpc.Error) bool {
	if e == nil {
		return true
	}
	out := e.AppendResponse(make([]byte, 0, 192), nil)
	w.Header()["Content-Type"] = jsonHeader
	w.WriteHeader(statusOf(e))
	_, _ = w.Write(out)
	return false
}

// admitCalls applies the method policy and the rate limits to the calls
// of one request. A call the policy refuses gets its own error (in a
// batch, the others are served); the limits are charged once for the
// calls left, and refuse the whole request when over. The returned
// error, when not nil, answers the whole request.
func (ex *exchange) admitCalls(ctx context.Context, calls []jsonrpc.Call, batch bool) *jsonrpc.Error {
	a := ex.h.access.Load()
	if a == nil {
		return nil
	}
	c := ex.caller
	cost := 0
	for i := range calls {
		call := &calls[i]
		if call.Err != nil {
			continue
		}
		if e := a.Method(c, ex.net.Name, call.Method); e != nil {
			if !batch {
				return e
			}
			call.Err = e
			continue
		}
		cost += a.Cost(c, call.Method)
	}
	retry, e := a.Take(ctx, c, cost)
	if e != nil && retry > 0 {
		ex.w.Header().Set("Retry-After", access.RetryAfterHeader(retry))
	}
	return e
}

// Admit applies the method policy and the rate limits to one call of
// method on n by the caller ctx carries: for calls served outside Do
// (eth_subscribe). nil when the call may go ahead.
func (h *Handler) Admit(ctx context.Context, n *Network, method string) *jsonrpc.Error {
	a := h.access.Load()
	if a == nil {
		return nil
	}
	c := access.CallerFrom(ctx)
	if e := a.Method(c, n.Name, method); e != nil {
		return e
	}
	_, e := a.Take(ctx, c, a.Cost(c, method))
	return e
}

// Identify runs the checks that need no body for a request served outside
// ServeHTTP (the REST routes): it answers a CORS preflight or a refusal
// itself (ok false); otherwise it returns r's context carrying the caller.
func (h *Handler) Identify(w http.ResponseWriter, r *http.Request, n *Network) (ctx context.Context, ok bool) {
	c, ok := h.admitRequest(w, r, n, "")
	if !ok {
		return nil, false
	}
	if c == nil {
		return r.Context(), true
	}
	return access.WithCaller(r.Context(), c), true
}

// Recheck checks c, the caller of a connection that outlives the request
// that identified it (a client WebSocket), against the keys as they are
// now, for one more message on n: it returns c, or c as the current keys
// describe it, or the refusal an HTTP request would get now (see
// access.Access.Recheck). Without access checks it returns c.
func (h *Handler) Recheck(c *access.Caller, n *Network) (*access.Caller, *jsonrpc.Error) {
	a := h.access.Load()
	if a == nil {
		return c, nil
	}
	return a.Recheck(c, n.Name)
}
