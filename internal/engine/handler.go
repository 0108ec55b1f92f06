package engine

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/evmgate/evmgate/internal/jsonrpc"
)

// Inbound limits: geth's auth endpoint accepts 128 MB bodies and 2000-call
// batches; the Engine API needs far less.
const (
	maxRequest = 64 << 20
	maxBatch   = 1000
)

// serveRPC answers the consensus client's JSON-RPC calls. Every request must
// carry a valid JWT (authentication.md); a bad one gets HTTP 401 with a
// plain-text reason, as execution clients answer.
func (m *Mux) serveRPC(w http.ResponseWriter, r *http.Request) {
	if err := m.verifier.Check(r.Header.Get("Authorization")); err != nil {
		m.metrics.authFailures.Inc()
		m.log.Debug("engine request rejected", "err", err)
		http.Error(w, err.Error(), http.StatusUnauthorized)
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxRequest))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			http.Error(w, "request body too large", http.StatusRequestEntityTooLarge)
			return
		}
		http.Error(w, "reading request body failed", http.StatusBadRequest)
		return
	}
	calls, batch, err := parseBody(body)
	w.Header().Set("Content-Type", "application/json")
	if err != nil {
		_, _ = w.Write(errorReply(&rpcError{jsonrpc.CodeParseError, err.Error()}).encode(nil))
		return
	}
	if len(calls) > maxBatch {
		_, _ = w.Write(errorReply(&rpcError{jsonrpc.CodeInvalidRequest, "batch too large"}).encode(nil))
		return
	}
	if !batch {
		_, _ = w.Write(m.dispatch(r.Context(), calls[0]).encode(calls[0].ID))
		return
	}
	// Calls of a batch run in order: a consensus client that batches
	// newPayload and forkchoiceUpdated relies on that order.
	out := make([]byte, 0, 256)
	out = append(out, '[')
	for i, c := range calls {
		if i > 0 {
			out = append(out, ',')
		}
		out = append(out, m.dispatch(r.Context(), c).encode(c.ID)...)
	}
	_, _ = w.Write(append(out, ']'))
}

// dispatch routes one call by method.
func (m *Mux) dispatch(ctx context.Context, c request) reply {
	start := time.Now()
	kind := methodKind(c.Method)
	var rep reply
	switch kind {
	case kindInvalid:
		rep = errorReply(&rpcError{jsonrpc.CodeInvalidRequest, "invalid request: missing method"})
	case kindNewPayload, kindForkchoice:
		rep = m.fanOut(ctx, c, kind)
	case kindGetPayload:
		rep = m.getPayload(ctx, c)
	case kindCapabilities:
		rep = m.capabilities(ctx, c)
	case kindClientVersion:
		rep = m.clientVersion(ctx, c)
	case kindOneSecond:
		rep = m.passthrough(ctx, c, m.dur.getPayload)
	default:
		rep = m.passthrough(ctx, c, 0)
	}
	m.metrics.requests.WithLabelValues(methodLabel(c.Method), replyLabel(rep)).Inc()
	m.metrics.duration.WithLabelValues(methodLabel(c.Method)).Observe(time.Since(start).Seconds())
	return rep
}

func replyLabel(r reply) string {
	if r.errRaw != nil {
		return "error"
	}
	return "ok"
}

type methodClass int

const (
	kindInvalid methodClass = iota
	kindNewPayload
	kindForkchoice
	kindGetPayload
	kindCapabilities
	kindClientVersion
	kindOneSecond // getBlobs*: primary with failover, within the 1 s deadline
	kindOther     // getPayloadBodies*, unknown engine_*, eth_*: primary with failover
)

func methodKind(method string) methodClass {
	switch {
	case method == "":
		return kindInvalid
	case versioned(method, "engine_newPayloadV"):
		return kindNewPayload
	case versioned(method, "engine_forkchoiceUpdatedV"):
		return kindForkchoice
	case versioned(method, "engine_getPayloadV"):
		return kindGetPayload
	case method == "engine_exchangeCapabilities":
		return kindCapabilities
	case versioned(method, "engine_getClientVersionV"):
		return kindClientVersion
	case versioned(method, "engine_getBlobsV"):
		return kindOneSecond
	}
	return kindOther
}

// versioned reports whether method is prefix followed by a version number.
func versioned(method, prefix string) bool {
	v, ok := strings.CutPrefix(method, prefix)
	if !ok || v == "" {
		return false
	}
	for _, r := range v {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}

// methodLabel bounds the metric label: known engine_* methods with at most
// two version digits keep their name, eth_* is one label, the rest "other".
func methodLabel(method string) string {
	known := methodKind(method) != kindOther ||
		versioned(method, "engine_getPayloadBodiesByHashV") || versioned(method, "engine_getPayloadBodiesByRangeV")
	switch {
	case method == "engine_exchangeCapabilities":
		return method
	case known && method != "" && len(method)-len(strings.TrimRight(method, "0123456789")) <= 2:
		return method
	case strings.HasPrefix(method, "eth_"):
		return "eth_*"
	}
	return "other"
}
