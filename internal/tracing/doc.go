// Package tracing sends OpenTelemetry spans of client requests and of
// their tries on nodes to a collector over OTLP/HTTP (protobuf).
//
// A Tracer is made only when tracing.enabled is true: the gateway holds a
// nil *Tracer otherwise, and the request path checks that pointer and
// nothing else. Spans are batched by the SDK's batch span processor and
// exported in the background; Shutdown flushes what is left.
//
// The exporter is this package's own: it builds the OTLP messages from
// the protobuf data packages only and posts them with net/http, so the
// collector package's gRPC service (and gRPC with it) is not linked into
// the binary, whether tracing is on or off.
//
// Trace context crosses the gateway as W3C trace context: a client's
// traceparent and tracestate are extracted and, when the clients are
// trusted (Options.TrustIncoming), the gateway's spans join the client's
// trace; otherwise a request starts a trace of its own, linked to the
// client's. Each try on a node carries a traceparent naming the try's own
// span (see upstream.WithTrace).
package tracing
