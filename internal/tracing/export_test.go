package tracing

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/klauspost/compress/gzip"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	sdkresource "go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/proto"
)

// collector answers the statuses in answers in turn (200 once they run
// out) and keeps every request it was sent.
type collector struct {
	srv     *httptest.Server
	mu      sync.Mutex
	answers []int
	reqs    []*http.Request
	bodies  [][]byte
}

func newCollector(t *testing.T, answers ...int) *collector {
	c := &collector{answers: answers}
	c.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		c.mu.Lock()
		c.reqs = append(c.reqs, r)
		c.bodies = append(c.bodies, body)
		code := http.StatusOK
		if len(c.answers) > 0 {
			code, c.answers = c.answers[0], c.answers[1:]
		}
		c.mu.Unlock()
		w.WriteHeader(code)
	}))
	t.Cleanup(c.srv.Close)
	return c
}

// req is the i-th request.
func (c *collector) req(i int) *http.Request {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.reqs[i]
}

func (c *collector) count() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.reqs)
}

// decode is the i-th request's body as the collector's message.
func (c *collector) decode(t *testing.T, i int) *coltracepb.ExportTraceServiceRequest {
	t.Helper()
	c.mu.Lock()
	body := c.bodies[i]
	c.mu.Unlock()
	var req coltracepb.ExportTraceServiceRequest
	if err := proto.Unmarshal(body, &req); err != nil {
		t.Fatalf("body is not an ExportTraceServiceRequest: %v", err)
	}
	return &req
}

func testExporter(c *collector) *exporter {
	return newExporter(exportConfig{URL: c.srv.URL + "/v1/traces", Timeout: 10 * time.Second,
		Headers: map[string]string{"x-api-key": "k1"}, UserAgent: "evmgate"})
}

func attrOf(kvs []*commonpb.KeyValue, key string) *commonpb.AnyValue {
	for _, kv := range kvs {
		if kv.Key == key {
			return kv.Value
		}
	}
	return nil
}

func TestExportConvertsSpans(t *testing.T) {
	c := newCollector(t)
	res := sdkresource.NewSchemaless(attribute.String("service.name", "gw"), attribute.Int("shard", 3))
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(testExporter(c)), sdktrace.WithResource(res))
	tr := tp.Tracer("scope-a", trace.WithInstrumentationVersion("1.2.3"))

	remote := trace.NewSpanContext(trace.SpanContextConfig{
		TraceID:    trace.TraceID{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16},
		SpanID:     trace.SpanID{9, 9, 9, 9, 9, 9, 9, 9},
		TraceFlags: trace.FlagsSampled,
		Remote:     true,
	})
	linked := trace.NewSpanContext(trace.SpanContextConfig{
		TraceID: trace.TraceID{0xaa, 1}, SpanID: trace.SpanID{0xbb, 2}, TraceFlags: trace.FlagsSampled,
	})
	start := time.Unix(1700000000, 123)
	ctx, server := tr.Start(trace.ContextWithRemoteSpanContext(context.Background(), remote), "eth_call",
		trace.WithSpanKind(trace.SpanKindServer), trace.WithTimestamp(start),
		trace.WithLinks(trace.Link{SpanContext: linked, Attributes: []attribute.KeyValue{attribute.String("why", "retry")}}),
		trace.WithAttributes(
			attribute.Bool("b", true), attribute.Int64("i", -7), attribute.Float64("f", 2.5), attribute.String("s", "x"),
			attribute.BoolSlice("bs", []bool{true, false}), attribute.Int64Slice("is", []int64{1, 2}),
			attribute.Float64Slice("fs", []float64{0.5}), attribute.StringSlice("ss", []string{"a", "b"}),
		))
	server.AddEvent("cache miss", trace.WithAttributes(attribute.Int("size", 42)), trace.WithTimestamp(start.Add(time.Millisecond)))
	_, try := tp.Tracer("scope-b").Start(ctx, "try n1", trace.WithSpanKind(trace.SpanKindClient))
	try.SetStatus(codes.Error, "dial refused")
	try.End()
	server.SetStatus(codes.Ok, "")
	server.End(trace.WithTimestamp(start.Add(time.Second)))
	if err := tp.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}

	if c.count() != 2 {
		t.Fatalf("%d exports, want 2 (a syncer exports each span as it ends)", c.count())
	}
	r := c.req(0)
	if r.Method != http.MethodPost || r.URL.Path != "/v1/traces" || r.Header.Get("Content-Type") != "application/x-protobuf" ||
		r.Header.Get("x-api-key") != "k1" || r.Header.Get("Content-Encoding") != "" {
		t.Fatalf("request %s %s, headers %v", r.Method, r.URL.Path, r.Header)
	}

	// The try ended first: its own scope, the same resource.
	req := c.decode(t, 0)
	if len(req.ResourceSpans) != 1 || len(req.ResourceSpans[0].ScopeSpans) != 1 || len(req.ResourceSpans[0].ScopeSpans[0].Spans) != 1 {
		t.Fatalf("first export: %v", req)
	}
	rs := req.ResourceSpans[0]
	if v := attrOf(rs.Resource.Attributes, "service.name"); v.GetStringValue() != "gw" {
		t.Fatalf("resource service.name %v", v)
	}
	if v := attrOf(rs.Resource.Attributes, "shard"); v.GetIntValue() != 3 {
		t.Fatalf("resource shard %v", v)
	}
	if sc := rs.ScopeSpans[0].Scope; sc.GetName() != "scope-b" {
		t.Fatalf("try's scope %v", sc)
	}
	trySpan := rs.ScopeSpans[0].Spans[0]

	req = c.decode(t, 1)
	ss := req.ResourceSpans[0].ScopeSpans[0]
	if ss.Scope.GetName() != "scope-a" || ss.Scope.GetVersion() != "1.2.3" {
		t.Fatalf("server's scope %v", ss.Scope)
	}
	sp := ss.Spans[0]
	if tid := remote.TraceID(); !bytes.Equal(sp.TraceId, tid[:]) {
		t.Fatalf("trace id %x", sp.TraceId)
	}
	if !bytes.Equal(sp.ParentSpanId, []byte{9, 9, 9, 9, 9, 9, 9, 9}) || len(sp.SpanId) != 8 {
		t.Fatalf("parent %x span %x", sp.ParentSpanId, sp.SpanId)
	}
	wantFlags := uint32(trace.FlagsSampled) | uint32(tracepb.SpanFlags_SPAN_FLAGS_CONTEXT_HAS_IS_REMOTE_MASK) | uint32(tracepb.SpanFlags_SPAN_FLAGS_CONTEXT_IS_REMOTE_MASK)
	if sp.Name != "eth_call" || sp.Kind != tracepb.Span_SPAN_KIND_SERVER || sp.Flags != wantFlags {
		t.Fatalf("name %q kind %v flags %#x", sp.Name, sp.Kind, sp.Flags)
	}
	if sp.StartTimeUnixNano != uint64(start.UnixNano()) || sp.EndTimeUnixNano != uint64(start.Add(time.Second).UnixNano()) {
		t.Fatalf("times %d..%d", sp.StartTimeUnixNano, sp.EndTimeUnixNano)
	}
	if sp.Status.GetCode() != tracepb.Status_STATUS_CODE_OK {
		t.Fatalf("status %v", sp.Status)
	}
	for key, check := range map[string]func(*commonpb.AnyValue) bool{
		"b": func(v *commonpb.AnyValue) bool { return v.GetBoolValue() },
		"i": func(v *commonpb.AnyValue) bool { return v.GetIntValue() == -7 },
		"f": func(v *commonpb.AnyValue) bool { return v.GetDoubleValue() == 2.5 },
		"s": func(v *commonpb.AnyValue) bool { return v.GetStringValue() == "x" },
		"bs": func(v *commonpb.AnyValue) bool {
			a := v.GetArrayValue().GetValues()
			return len(a) == 2 && a[0].GetBoolValue() && !a[1].GetBoolValue() && a[1].GetValue() != nil
		},
		"is": func(v *commonpb.AnyValue) bool {
			a := v.GetArrayValue().GetValues()
			return len(a) == 2 && a[0].GetIntValue() == 1 && a[1].GetIntValue() == 2
		},
		"fs": func(v *commonpb.AnyValue) bool {
			a := v.GetArrayValue().GetValues()
			return len(a) == 1 && a[0].GetDoubleValue() == 0.5
		},
		"ss": func(v *commonpb.AnyValue) bool {
			a := v.GetArrayValue().GetValues()
			return len(a) == 2 && a[0].GetStringValue() == "a" && a[1].GetStringValue() == "b"
		},
	} {
		if v := attrOf(sp.Attributes, key); v == nil || !check(v) {
			t.Errorf("attribute %s: %v", key, v)
		}
	}
	if len(sp.Events) != 1 || sp.Events[0].Name != "cache miss" || sp.Events[0].TimeUnixNano != uint64(start.Add(time.Millisecond).UnixNano()) ||
		attrOf(sp.Events[0].Attributes, "size").GetIntValue() != 42 {
		t.Fatalf("events %v", sp.Events)
	}
	if len(sp.Links) != 1 || !bytes.Equal(sp.Links[0].SpanId, []byte{0xbb, 2, 0, 0, 0, 0, 0, 0}) ||
		attrOf(sp.Links[0].Attributes, "why").GetStringValue() != "retry" {
		t.Fatalf("links %v", sp.Links)
	}

	// The try is the server span's child, in the same trace, not remote.
	if !bytes.Equal(trySpan.TraceId, sp.TraceId) || !bytes.Equal(trySpan.ParentSpanId, sp.SpanId) {
		t.Fatalf("try trace %x parent %x, want %x %x", trySpan.TraceId, trySpan.ParentSpanId, sp.TraceId, sp.SpanId)
	}
	if trySpan.Kind != tracepb.Span_SPAN_KIND_CLIENT || trySpan.Name != "try n1" ||
		trySpan.Flags&uint32(tracepb.SpanFlags_SPAN_FLAGS_CONTEXT_IS_REMOTE_MASK) != 0 {
		t.Fatalf("try %v", trySpan)
	}
	if trySpan.Status.GetCode() != tracepb.Status_STATUS_CODE_ERROR || trySpan.Status.GetMessage() != "dial refused" {
		t.Fatalf("try status %v", trySpan.Status)
	}
}

// spans are ended spans of the given names, recorded in memory.
func spans(names ...string) []sdktrace.ReadOnlySpan {
	rec := &recorder{}
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(rec))
	for _, n := range names {
		_, s := tp.Tracer("t").Start(context.Background(), n)
		s.End()
	}
	_ = tp.Shutdown(context.Background())
	return rec.spans
}

type recorder struct{ spans []sdktrace.ReadOnlySpan }

func (r *recorder) ExportSpans(_ context.Context, s []sdktrace.ReadOnlySpan) error {
	r.spans = append(r.spans, s...)
	return nil
}
func (r *recorder) Shutdown(context.Context) error { return nil }

func TestExportGroupsByResourceAndScope(t *testing.T) {
	c := newCollector(t)
	in := spans("a", "b", "c")
	if err := testExporter(c).ExportSpans(context.Background(), in); err != nil {
		t.Fatal(err)
	}
	req := c.decode(t, 0)
	if len(req.ResourceSpans) != 1 || len(req.ResourceSpans[0].ScopeSpans) != 1 {
		t.Fatalf("spans of one resource and scope were split: %v", req)
	}
	var names []string
	for _, s := range req.ResourceSpans[0].ScopeSpans[0].Spans {
		names = append(names, s.Name)
	}
	if strings.Join(names, ",") != "a,b,c" {
		t.Fatalf("spans %v", names)
	}
}

func TestExportRetriesBusyCollector(t *testing.T) {
	c := newCollector(t, http.StatusServiceUnavailable, http.StatusOK)
	if err := testExporter(c).ExportSpans(context.Background(), spans("a")); err != nil {
		t.Fatalf("503 then 200: %v", err)
	}
	if c.count() != 2 {
		t.Fatalf("%d posts, want 2", c.count())
	}
	if a, b := c.decode(t, 0), c.decode(t, 1); !proto.Equal(a, b) {
		t.Fatal("the retry sent another body")
	}
}

func TestExportGivesUpOnBusyCollector(t *testing.T) {
	c := newCollector(t, 503, 503, 503, 503, 503, 503)
	err := testExporter(c).ExportSpans(context.Background(), spans("a"))
	if err == nil || !strings.Contains(err.Error(), "503") {
		t.Fatalf("err %v, want the 503", err)
	}
	if c.count() != exportTries {
		t.Fatalf("%d posts, want %d", c.count(), exportTries)
	}
}

func TestExportRefusedIsAnError(t *testing.T) {
	c := newCollector(t, http.StatusBadRequest)
	err := testExporter(c).ExportSpans(context.Background(), spans("a"))
	if err == nil || !strings.Contains(err.Error(), "400") {
		t.Fatalf("err %v, want the 400", err)
	}
	if c.count() != 1 {
		t.Fatalf("%d posts, want 1: a 400 is not retried", c.count())
	}
}

func TestExportStopsRetryingWithItsContext(t *testing.T) {
	c := newCollector(t, 503, 503, 503, 503)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	err := testExporter(c).ExportSpans(ctx, spans("a"))
	if err == nil || !errors.Is(err, context.Canceled) {
		t.Fatalf("err %v, want canceled", err)
	}
	if c.count() > 1 {
		t.Fatalf("%d posts after the context ended", c.count())
	}
}

func TestExportGzip(t *testing.T) {
	c := newCollector(t)
	cfg, err := exportConfigOf(Options{Endpoint: c.srv.URL}, mapLookup{"OTEL_EXPORTER_OTLP_COMPRESSION": "gzip"}.get)
	if err != nil {
		t.Fatal(err)
	}
	if err := newExporter(cfg).ExportSpans(context.Background(), spans("zipped")); err != nil {
		t.Fatal(err)
	}
	if enc := c.req(0).Header.Get("Content-Encoding"); enc != "gzip" {
		t.Fatalf("Content-Encoding %q", enc)
	}
	c.mu.Lock()
	zipped := c.bodies[0]
	c.mu.Unlock()
	zr, err := gzip.NewReader(bytes.NewReader(zipped))
	if err != nil {
		t.Fatal(err)
	}
	plain, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	c.mu.Lock()
	c.bodies[0] = plain
	c.mu.Unlock()
	if got := c.decode(t, 0).ResourceSpans[0].ScopeSpans[0].Spans[0].Name; got != "zipped" {
		t.Fatalf("span %q", got)
	}
}

// Exports running at once each compress their own batch whole, though
// they share the pooled gzip writers.
func TestExportGzipConcurrent(t *testing.T) {
	c := newCollector(t)
	cfg, err := exportConfigOf(Options{Endpoint: c.srv.URL}, mapLookup{"OTEL_EXPORTER_OTLP_COMPRESSION": "gzip"}.get)
	if err != nil {
		t.Fatal(err)
	}
	e := newExporter(cfg)
	const exports = 8
	var wg sync.WaitGroup
	errs := make(chan error, exports*3)
	for i := range exports {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range 3 {
				errs <- e.ExportSpans(context.Background(), spans(fmt.Sprintf("s%d-%d-a", i, j), fmt.Sprintf("s%d-%d-b", i, j)))
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	seen := map[string]bool{}
	c.mu.Lock()
	bodies := slices.Clone(c.bodies)
	c.mu.Unlock()
	for i, zipped := range bodies {
		zr, err := gzip.NewReader(bytes.NewReader(zipped))
		if err != nil {
			t.Fatalf("body %d: %v", i, err)
		}
		plain, err := io.ReadAll(zr)
		if err != nil {
			t.Fatalf("body %d: %v", i, err)
		}
		var req coltracepb.ExportTraceServiceRequest
		if err := proto.Unmarshal(plain, &req); err != nil {
			t.Fatalf("body %d: %v", i, err)
		}
		var names []string
		for _, s := range req.ResourceSpans[0].ScopeSpans[0].Spans {
			names = append(names, s.Name)
		}
		if len(names) != 2 || strings.TrimSuffix(names[0], "-a") != strings.TrimSuffix(names[1], "-b") {
			t.Fatalf("body %d holds %v, want one export's two spans", i, names)
		}
		seen[names[0]] = true
	}
	if len(seen) != exports*3 {
		t.Fatalf("%d distinct exports received, want %d", len(seen), exports*3)
	}
}

func TestExportAfterShutdownSendsNothing(t *testing.T) {
	c := newCollector(t)
	e := testExporter(c)
	_ = e.Shutdown(context.Background())
	if err := e.ExportSpans(context.Background(), spans("a")); err != nil || c.count() != 0 {
		t.Fatalf("err %v, %d posts", err, c.count())
	}
}

type mapLookup map[string]string

func (m mapLookup) get(k string) (string, bool) { v, ok := m[k]; return v, ok }

func TestExportConfigFromEnvironment(t *testing.T) {
	cfg, err := exportConfigOf(Options{Headers: map[string]string{"x-api-key": "from-config"}}, mapLookup{
		"OTEL_EXPORTER_OTLP_ENDPOINT":       "https://otel.example:4318/base/",
		"OTEL_EXPORTER_OTLP_HEADERS":        "ignored=1",
		"OTEL_EXPORTER_OTLP_TRACES_HEADERS": "x-api-key=from-env, tenant=a%20b",
		"OTEL_EXPORTER_OTLP_TIMEOUT":        "2500",
	}.get)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.URL != "https://otel.example:4318/base/v1/traces" {
		t.Errorf("URL %q", cfg.URL)
	}
	if cfg.Headers["x-api-key"] != "from-config" || cfg.Headers["tenant"] != "a b" || cfg.Headers["ignored"] != "" {
		t.Errorf("headers %v", cfg.Headers)
	}
	if _, err := exportConfigOf(Options{}, mapLookup{"OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf"}.get); err != nil {
		t.Errorf("OTEL_EXPORTER_OTLP_PROTOCOL=http/protobuf: %v", err)
	}
	if cfg.Timeout != 2500*time.Millisecond || cfg.Gzip {
		t.Errorf("timeout %v gzip %v", cfg.Timeout, cfg.Gzip)
	}

	for _, tc := range []struct {
		cfg  Options
		env  mapLookup
		want string
	}{
		{Options{}, mapLookup{}, "http://localhost:4318/v1/traces"},
		{Options{Endpoint: "http://c:4318"}, mapLookup{"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://other/x"}, "http://c:4318/v1/traces"},
		{Options{}, mapLookup{"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://t:1/custom", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://g:2"}, "http://t:1/custom"},
		{Options{Endpoint: "http://c:4318/v1/traces"}, mapLookup{}, "http://c:4318/v1/traces"},
	} {
		got, err := Endpoint(tc.cfg, tc.env.get)
		if err != nil || got != tc.want {
			t.Errorf("Endpoint(%+v, %v) = %q, %v; want %q", tc.cfg, tc.env, got, err, tc.want)
		}
	}

	for env, want := range map[string]string{
		"OTEL_EXPORTER_OTLP_TIMEOUT":            "OTEL_EXPORTER_OTLP_TIMEOUT",
		"OTEL_EXPORTER_OTLP_TRACES_COMPRESSION": "OTEL_EXPORTER_OTLP_TRACES_COMPRESSION",
		"OTEL_EXPORTER_OTLP_HEADERS":            "OTEL_EXPORTER_OTLP_HEADERS",
		"OTEL_EXPORTER_OTLP_ENDPOINT":           "OTEL_EXPORTER_OTLP_ENDPOINT",
		"OTEL_EXPORTER_OTLP_CERTIFICATE":        "OTEL_EXPORTER_OTLP_CERTIFICATE",
		"OTEL_EXPORTER_OTLP_TRACES_PROTOCOL":    "http/protobuf",
	} {
		if _, err := exportConfigOf(Options{}, mapLookup{env: "bogus"}.get); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s=bogus: err %v, want one naming it", env, err)
		}
	}
}

func TestRetryAfter(t *testing.T) {
	if d := retryAfterOf("2"); d != 2*time.Second {
		t.Errorf("2: %v", d)
	}
	if d := retryAfterOf(time.Now().Add(time.Hour).UTC().Format(http.TimeFormat)); d < 59*time.Minute {
		t.Errorf("an hour ahead: %v", d)
	}
	if d := retryAfterOf("soon"); d != 0 {
		t.Errorf("soon: %v", d)
	}
}

// service.name: tracing.service_name, else OTEL_SERVICE_NAME, else the one
// OTEL_RESOURCE_ATTRIBUTES gives, else evmgate.
func TestServiceNamePrecedence(t *testing.T) {
	for _, tc := range []struct {
		config, serviceEnv, attrsEnv, want string
	}{
		{"", "", "", DefaultServiceName},
		{"", "", "service.name=from-attrs,deployment.environment=prod", "from-attrs"},
		{"", "from-env", "service.name=from-attrs", "from-env"},
		{"from-config", "from-env", "service.name=from-attrs", "from-config"},
	} {
		t.Setenv("OTEL_SERVICE_NAME", tc.serviceEnv)
		t.Setenv("OTEL_RESOURCE_ATTRIBUTES", tc.attrsEnv)
		c := newCollector(t)
		tr, err := New(Options{Endpoint: c.srv.URL, ServiceName: tc.config, SampleRate: 1}, slog.New(slog.DiscardHandler))
		if err != nil {
			t.Fatal(err)
		}
		tr.StartServer(propagation.MapCarrier{}, "eth_call", time.Now()).End()
		if err := tr.Shutdown(context.Background()); err != nil {
			t.Fatal(err)
		}
		res := c.decode(t, 0).ResourceSpans[0].Resource
		if got := attrOf(res.Attributes, "service.name").GetStringValue(); got != tc.want {
			t.Errorf("%+v: service.name %q, want %q", tc, got, tc.want)
		}
	}
}

func TestOnByConfigAndEnvironment(t *testing.T) {
	for v, envOff := range map[string]bool{"true": true, "TRUE": true, " true ": true, "false": false, "": false, "1": false} {
		on, off := On(true, mapLookup{"OTEL_SDK_DISABLED": v}.get)
		if on == envOff || off != envOff {
			t.Errorf("enabled, OTEL_SDK_DISABLED=%q: On = %v, %v, want %v, %v", v, on, off, !envOff, envOff)
		}
		if on, off := On(false, mapLookup{"OTEL_SDK_DISABLED": v}.get); on || off {
			t.Errorf("not enabled, OTEL_SDK_DISABLED=%q: On = %v, %v, want false, false", v, on, off)
		}
	}
}
