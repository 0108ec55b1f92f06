package proxy

import (
	"context"
	"errors"
	"strings"

	"github.com/evmgate/evmgate/internal/jsonrpc"
	"github.com/evmgate/evmgate/internal/tracing"
	"github.com/evmgate/evmgate/internal/upstream"
	"github.com/valyala/fasthttp"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
)

// SetTracer makes the handler trace the requests it serves (nil: none).
// It is set before serving.
func (h *Handler) SetTracer(t *tracing.Tracer) { h.tracer = t }

// Span attributes: OpenTelemetry's semantic conventions where one fits,
// evmgate.* otherwise. Every value is bounded: a method outside the known
// set is "other", a node is named by its configured name, never its URL.
const (
	attrNetwork   = attribute.Key("evmgate.network")
	attrRequestID = attribute.Key("evmgate.request_id")
	attrKey       = attribute.Key("evmgate.key")
	attrCache     = attribute.Key("evmgate.cache")
	attrStatus    = attribute.Key("evmgate.status")
	attrBatchSize = attribute.Key("evmgate.batch.size")
	attrNode      = attribute.Key("evmgate.node")
	attrTier      = attribute.Key("evmgate.node.tier")
	attrTries     = attribute.Key("evmgate.tries")
	attrAttempt   = attribute.Key("evmgate.attempt")
	attrHedged    = attribute.Key("evmgate.hedged")
	attrOutcome   = attribute.Key("evmgate.outcome")
	attrRPCSystem = attribute.Key("rpc.system")
	attrRPCMethod = attribute.Key("rpc.method")
	attrHTTPCode  = attribute.Key("http.response.status_code")
	attrHTTPVerb  = attribute.Key("http.request.method")
	attrProtocol  = attribute.Key("network.protocol.name")
)

// exchangeTrace is a traced request's span and what only the span
// reports.
type exchangeTrace struct {
	span       trace.Span
	cache      string // "hit", "miss" or "" (the cache was not asked)
	httpStatus int    // of a gateway error (0: 200, or none when the client left)
	errText    string // a gateway error's message
	ws         bool   // a message of a client WebSocket: no HTTP status
}

// startSpan starts the request's span, joining the trace of the client's
// traceparent when it sends one. The span is named after the network
// until the call's method is known. A request that is not sampled is not
// traced at all.
func (ex *exchange) startSpan(carrier propagation.TextMapCarrier) {
	span := ex.h.tracer.StartServer(carrier, "evmgate "+ex.net.Name, ex.start,
		attrNetwork.String(ex.net.Name), attrRPCSystem.String("jsonrpc"), attrHTTPVerb.String("POST"))
	if span != nil {
		ex.tr = &exchangeTrace{span: span}
	}
}

// startCallSpan starts the span of a message of a client WebSocket, a
// trace of its own linked to the upgrade request's trace context in ctx.
func (ex *exchange) startCallSpan(ctx context.Context) {
	span := ex.h.tracer.StartCall(ctx, "evmgate "+ex.net.Name, ex.start,
		attrNetwork.String(ex.net.Name), attrRPCSystem.String("jsonrpc"), attrProtocol.String("websocket"))
	if span != nil {
		ex.tr = &exchangeTrace{span: span, ws: true}
	}
}

// traceError records a gateway error answered with HTTP status.
func (ex *exchange) traceError(e *jsonrpc.Error, status int) {
	if ex.tr != nil {
		ex.tr.errText, ex.tr.httpStatus = e.Message, status
	}
}

// endSpan ends the request's span with what the log line reports.
func (ex *exchange) endSpan() {
	tr := ex.tr
	s := tr.span
	attrs := make([]attribute.KeyValue, 0, 10)
	// The request id may sit in a pooled buffer the next request reuses;
	// the span outlives the request.
	attrs = append(attrs, attrRequestID.String(strings.Clone(ex.reqID)), attrStatus.String(ex.status), attrTries.Int(ex.tries))
	switch {
	case ex.method == "batch":
		attrs = append(attrs, attrBatchSize.Int(ex.calls))
	case ex.method != "":
		m := jsonrpc.Label(ex.method)
		s.SetName(m)
		attrs = append(attrs, attrRPCMethod.String(m))
	}
	if ex.node != "" {
		attrs = append(attrs, attrNode.String(ex.node))
	}
	if k := ex.caller.Name(); k != "" {
		attrs = append(attrs, attrKey.String(k))
	}
	if tr.cache != "" {
		attrs = append(attrs, attrCache.String(tr.cache))
	}
	code := tr.httpStatus
	if code == 0 && ex.status != "client_gone" {
		code = 200
	}
	if code != 0 && !tr.ws {
		attrs = append(attrs, attrHTTPCode.Int(code))
	}
	s.SetAttributes(attrs...)
	if ex.status == "gateway_error" {
		msg := tr.errText
		if msg == "" {
			msg = ex.status
		}
		s.SetStatus(codes.Error, msg)
	}
	s.End()
}

// startTry starts the span of a try on n (a hedged copy when hedged) and
// returns ctx whose call to n carries the span's traceparent.
func (ex *exchange) startTry(ctx context.Context, n *upstream.Node, attempt int, hedged bool) (context.Context, trace.Span) {
	attrs := make([]attribute.KeyValue, 0, 7)
	attrs = append(attrs, attrNode.String(n.Name), attrTier.String(n.Tier.String()), attrAttempt.Int(attempt),
		attrNetwork.String(ex.net.Name), attrRPCSystem.String("jsonrpc"))
	if ex.method != "" && ex.method != "batch" {
		attrs = append(attrs, attrRPCMethod.String(jsonrpc.Label(ex.method)))
	}
	if hedged {
		attrs = append(attrs, attrHedged.Bool(true))
	}
	span := ex.h.tracer.StartTry(ex.tr.span, "try "+n.Name, attrs...)
	parent, state := tracing.Header(span)
	return upstream.WithTrace(ctx, parent, state), span
}

// endTry ends a try's span with its outcome: "ok", or the kind of its
// failure. A cancelled try (its client went away, or a hedged copy
// answered first) is not an error of the try.
func endTry(span trace.Span, err error) {
	outcome := "ok"
	if err != nil {
		outcome = "error"
		var ue *upstream.Error
		if errors.As(err, &ue) {
			outcome = ue.Kind.String()
		}
		if outcome != upstream.KindCanceled.String() {
			span.SetStatus(codes.Error, err.Error())
		}
	}
	span.SetAttributes(attrOutcome.String(outcome))
	span.End()
}

// fastCarrier reads the trace context headers of a request of fasthttp's
// server. Values are copied: the span outlives the request's buffers.
type fastCarrier struct{ ctx *fasthttp.RequestCtx }

func (c fastCarrier) Get(key string) string { return string(c.ctx.Request.Header.Peek(key)) }
func (c fastCarrier) Set(string, string)    {}
func (c fastCarrier) Keys() []string        { return nil }
