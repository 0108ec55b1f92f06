package proxy

import (
	"context"
	"net/http"
	"time"

	"github.com/evmgate/evmgate/internal/access"
)

// Do answers a JSON-RPC body (single call or batch) for network n the way an
// HTTP request would be answered, and returns the response bytes (nil for
// notifications). Other transports (the REST API; WebSocket through DoAs)
// use it so every call takes the same path: priority class, selection,
// retries and failover. It is not traced.
func (h *Handler) Do(ctx context.Context, n *Network, body []byte, class Class, reqID string) []byte {
	return h.do(ctx, n, body, class, reqID, "", false)
}

// DoAs is Do for a named client: its reads are kept consistent (see
// ClientHeader) when the network keeps consistent reads. It serves a
// message of a client WebSocket: when tracing is on, the message is a
// span, linked to the trace context of the upgrade request that ctx
// holds (ServeHTTP puts it there).
func (h *Handler) DoAs(ctx context.Context, n *Network, body []byte, class Class, reqID, client string) []byte {
	return h.do(ctx, n, body, class, reqID, client, true)
}

// do serves body in memory; traced makes it a span when tracing is on.
func (h *Handler) do(ctx context.Context, n *Network, body []byte, class Class, reqID, client string, traced bool) []byte {
	w := &memoryWriter{header: http.Header{}}
	ex := exchange{h: h, net: n, w: w, start: time.Now(), class: class, reqID: reqID, client: client, caller: access.CallerFrom(ctx)}
	if ex.reqID == "" {
		ex.reqID = h.ids.next()
	}
	if traced && h.tracer != nil {
		ex.startCallSpan(ctx)
	}
	ex.serve(ctx, body)
	return w.body
}

// memoryWriter is an http.ResponseWriter that keeps the body in memory.
type memoryWriter struct {
	header http.Header
	status int
	body   []byte
}

func (m *memoryWriter) Header() http.Header { return m.header }
func (m *memoryWriter) WriteHeader(s int)   { m.status = s }
func (m *memoryWriter) Write(p []byte) (int, error) {
	m.body = append(m.body, p...)
	return len(p), nil
}

// Retake clears the answer: nothing of it has left.
func (m *memoryWriter) Retake() bool {
	clear(m.header)
	m.status, m.body = 0, m.body[:0]
	return true
}
