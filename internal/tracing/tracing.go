package tracing

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/propagation"
	sdkresource "go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
)

// DefaultEndpoint is the collector's address when neither the
// configuration nor the environment names one (the OTLP/HTTP default).
const DefaultEndpoint = "http://localhost:4318"

// DefaultServiceName is service.name when neither the configuration nor
// OTEL_SERVICE_NAME names one.
const DefaultServiceName = "evmgate"

// Tracer makes the gateway's spans.
type Tracer struct {
	provider *sdktrace.TracerProvider
	tracer   trace.Tracer
	endpoint string // the URL spans are posted to
	// trustIncoming joins a client's trace (see Options.TrustIncoming).
	trustIncoming bool
}

var propagator = propagation.TraceContext{}

// Options are the tracing: section's settings (see config.Tracing).
type Options struct {
	// Endpoint is the collector's OTLP/HTTP base URL ("": from the
	// environment, else DefaultEndpoint).
	Endpoint string
	// SampleRate is the share of the traces started here that are sampled.
	SampleRate float64
	// ServiceName is service.name ("": from the environment, else
	// DefaultServiceName).
	ServiceName string
	// Headers go with every export.
	Headers map[string]string
	// Version is the gateway's, reported as service.version ("": not reported).
	Version string
	// TrustIncoming makes a client's traceparent the parent of its
	// request's span, and its sampled flag the sampling decision. Off, a
	// request starts a trace of its own, sampled at SampleRate, linked to
	// the client's: a client cannot make the gateway export its calls.
	TrustIncoming bool
}

// New returns a tracer that exports to cfg's collector. Export failures
// are logged on log, at most once a minute.
func New(cfg Options, log *slog.Logger) (*Tracer, error) {
	ec, err := Check(cfg, os.LookupEnv)
	if err != nil {
		return nil, err
	}
	exp := newExporter(ec)
	// Later sources win: the defaults, then OTEL_RESOURCE_ATTRIBUTES and
	// OTEL_SERVICE_NAME, then tracing.service_name.
	defaults := []attribute.KeyValue{attribute.String("service.name", DefaultServiceName)}
	if cfg.Version != "" {
		defaults = append(defaults, attribute.String("service.version", cfg.Version))
	}
	opts := []sdkresource.Option{sdkresource.WithTelemetrySDK(), sdkresource.WithAttributes(defaults...), sdkresource.WithFromEnv()}
	if cfg.ServiceName != "" {
		opts = append(opts, sdkresource.WithAttributes(attribute.String("service.name", cfg.ServiceName)))
	}
	res, err := sdkresource.New(context.Background(), opts...)
	if err != nil {
		return nil, fmt.Errorf("OTEL_RESOURCE_ATTRIBUTES: %w (write key=value pairs separated by commas)", err)
	}
	provider := sdktrace.NewTracerProvider(
		sdktrace.WithBatcher(exp),
		sdktrace.WithResource(res),
		sdktrace.WithSampler(sdktrace.ParentBased(sdktrace.TraceIDRatioBased(cfg.SampleRate))),
	)
	otel.SetErrorHandler(rateLimited(log, time.Minute))
	return &Tracer{provider: provider, tracer: provider.Tracer("github.com/evmgate/evmgate"), endpoint: ec.URL, trustIncoming: cfg.TrustIncoming}, nil
}

// Endpoint is the URL spans are posted to, as configured: it may hold
// credentials or a key in its query, so redact it before logging it.
func (t *Tracer) Endpoint() string { return t.endpoint }

// On decides whether tracing is on, the one place that does: the
// configuration turns it on (tracing.enabled) and the environment does
// not turn it off (OTEL_SDK_DISABLED=true, which wins over the
// configuration, as the OpenTelemetry SDK specification has it).
// envOff reports that tracing.enabled is true but the environment turned
// it off, which the start logs.
func On(enabled bool, lookup func(string) (string, bool)) (on, envOff bool) {
	if !enabled {
		return false, false
	}
	v, _ := lookup("OTEL_SDK_DISABLED")
	if strings.EqualFold(strings.TrimSpace(v), "true") {
		return false, true
	}
	return true, false
}

// batchLimits are the batch span processor's variables: the SDK reads
// them itself, and a value out of range crashes it (a negative size) or
// exhausts memory (a huge one).
var batchLimits = []struct {
	name     string
	min, max int
}{
	{"OTEL_BSP_MAX_QUEUE_SIZE", 1, 1 << 20},
	{"OTEL_BSP_MAX_EXPORT_BATCH_SIZE", 1, 1 << 20},
	{"OTEL_BSP_SCHEDULE_DELAY", 0, 3_600_000},
	{"OTEL_BSP_EXPORT_TIMEOUT", 1, 3_600_000},
}

// Check reads what the environment says of the export (see
// exportConfigOf) and checks the batch span processor's variables, so
// that a value that cannot be used stops the start, or fails validate,
// naming the variable.
func Check(cfg Options, lookup func(string) (string, bool)) (exportConfig, error) {
	for _, l := range batchLimits {
		v, ok := lookup(l.name)
		if !ok || strings.TrimSpace(v) == "" {
			continue
		}
		n, err := strconv.Atoi(strings.TrimSpace(v))
		if err != nil || n < l.min || n > l.max {
			return exportConfig{}, fmt.Errorf("%s: %q is not a whole number from %d to %d (sizes in spans, times in milliseconds)", l.name, v, l.min, l.max)
		}
	}
	if v, ok := lookup("OTEL_RESOURCE_ATTRIBUTES"); ok {
		// The SDK reads the variable itself; what it could not read stops the start.
		if _, err := parseKeyValues("OTEL_RESOURCE_ATTRIBUTES", v, "key"); err != nil {
			return exportConfig{}, err
		}
	}
	return exportConfigOf(cfg, lookup)
}

// Shutdown exports the spans still held and stops the exporter, within ctx.
func (t *Tracer) Shutdown(ctx context.Context) error { return t.provider.Shutdown(ctx) }

// StartServer starts the span of a client request that began at start.
// With TrustIncoming, it is a child of the trace context carrier holds, if
// any, and sampled as that says; otherwise it starts a trace of its own,
// linked to the client's. It returns nil when the request is not sampled:
// it is then not traced at all, and its tries carry no traceparent.
func (t *Tracer) StartServer(carrier propagation.TextMapCarrier, name string, start time.Time, attrs ...attribute.KeyValue) trace.Span {
	remote := trace.SpanContextFromContext(propagator.Extract(context.Background(), carrier))
	return t.startServer(remote, t.trustIncoming, name, start, attrs)
}

// Incoming returns ctx holding the trace context carrier holds, for
// StartCall: a WebSocket upgrade request's.
func (t *Tracer) Incoming(ctx context.Context, carrier propagation.TextMapCarrier) context.Context {
	return propagator.Extract(ctx, carrier)
}

// StartCall starts the span of a call received over a WebSocket, whose
// upgrade request's trace context ctx holds (see Incoming). The call
// starts a trace of its own, sampled at SampleRate, linked to the
// upgrade's trace whether or not it is trusted: a connection can carry
// calls for hours, and one trace for all of them, or a sampling decision
// made once for all of them, would help no one. It returns nil when the
// call is not sampled.
func (t *Tracer) StartCall(ctx context.Context, name string, start time.Time, attrs ...attribute.KeyValue) trace.Span {
	return t.startServer(trace.SpanContextFromContext(ctx), false, name, start, attrs)
}

// startServer starts a server span, a child of remote when join is true,
// else the root of a new trace linked to remote (when valid). The link
// holds the ids only: the client's tracestate is not its to keep.
func (t *Tracer) startServer(remote trace.SpanContext, join bool, name string, start time.Time, attrs []attribute.KeyValue) trace.Span {
	ctx := context.Background()
	opts := []trace.SpanStartOption{trace.WithSpanKind(trace.SpanKindServer), trace.WithTimestamp(start), trace.WithAttributes(attrs...)}
	switch {
	case !remote.IsValid():
	case join:
		ctx = trace.ContextWithRemoteSpanContext(ctx, remote)
	default:
		opts = append(opts, trace.WithLinks(trace.Link{SpanContext: remote.WithTraceState(trace.TraceState{})}))
	}
	_, span := t.tracer.Start(ctx, name, opts...)
	if !span.IsRecording() {
		return nil
	}
	return span
}

// StartTry starts the span of one try on a node, a child of the request's.
func (t *Tracer) StartTry(parent trace.Span, name string, attrs ...attribute.KeyValue) trace.Span {
	_, span := t.tracer.Start(trace.ContextWithSpan(context.Background(), parent), name,
		trace.WithSpanKind(trace.SpanKindClient), trace.WithAttributes(attrs...))
	return span
}

// Header is the W3C traceparent and tracestate naming span, sent to a node.
func Header(span trace.Span) (traceparent, tracestate string) {
	var c headerCarrier
	propagator.Inject(trace.ContextWithSpan(context.Background(), span), &c)
	return c.parent, c.state
}

// headerCarrier takes the two headers the propagator writes.
type headerCarrier struct{ parent, state string }

func (c *headerCarrier) Get(key string) string {
	switch key {
	case "traceparent":
		return c.parent
	case "tracestate":
		return c.state
	}
	return ""
}

func (c *headerCarrier) Set(key, value string) {
	switch strings.ToLower(key) {
	case "traceparent":
		c.parent = value
	case "tracestate":
		c.state = value
	}
}

func (c *headerCarrier) Keys() []string { return []string{"traceparent", "tracestate"} }

// rateLimited logs the SDK's errors (an unreachable collector) as
// warnings, at most one per period.
func rateLimited(log *slog.Logger, period time.Duration) otel.ErrorHandler {
	var last atomic.Int64
	return otel.ErrorHandlerFunc(func(err error) {
		now := time.Now().UnixNano()
		prev := last.Load()
		if now-prev < int64(period) || !last.CompareAndSwap(prev, now) {
			return
		}
		log.Warn("tracing: exporting spans failed; spans are dropped until the collector answers (tracing.endpoint)", "err", err)
	})
}
