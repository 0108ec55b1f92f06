//go:build !nodemo

package main

import (
	"bytes"
	"context"
	"encoding/hex"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
)

// startTracedGateway runs evmgate with tracing on, exporting to sink every
// 200ms, with the tracing: keys given and extra configuration after its
// network "devnet" of one fake node, "fake", behind a relay that records
// the traceparent of each call. It returns the process, the relay and the
// RPC port.
func startTracedGateway(t *testing.T, sink *otlpSink, keys, extra string) (*proc, *traceRelay, int) {
	t.Helper()
	f := fakeNodes(t, 1, 1337)
	relay := newTraceRelay(t, f[0].URL())
	rpcPort, metricsPort := freePort(t), freePort(t)
	cfg := filepath.Join(t.TempDir(), "evmgate.yaml")
	writeFile(t, cfg, tracingConfig(rpcPort, metricsPort, sink.srv.URL, keys, "fake", relay.srv.URL)+extra)
	p := startProc(t, []string{"OTEL_BSP_SCHEDULE_DELAY=200"}, "-config", cfg)
	p.waitOutput(p.stderr, "gateway started", 2*time.Minute)
	return p, relay, rpcPort
}

func isServer(sp *tracepb.Span) bool { return sp.Kind == tracepb.Span_SPAN_KIND_SERVER }
func isClient(sp *tracepb.Span) bool { return sp.Kind == tracepb.Span_SPAN_KIND_CLIENT }

// hasAttr reports whether sp has an attribute named key, whatever its value.
func hasAttr(sp *tracepb.Span, key string) bool {
	for _, kv := range sp.Attributes {
		if kv.Key == key {
			return true
		}
	}
	return false
}

// tracing.trust_incoming: with sample_rate 0, a call whose traceparent is
// sampled is traced, as a child of the client's span, only when clients
// are trusted. Untrusted (the default), it is not traced at all and its
// node receives no traceparent; with sample_rate 1 its span starts a trace
// of its own, linked to the client's span.
func TestTracingTrustIncomingAsProcess(t *testing.T) {
	const traceID, parentID = "7bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"
	call := func(t *testing.T, rpcPort int, id string) {
		t.Helper()
		body := `{"jsonrpc":"2.0","id":"` + id + `","method":"eth_getBlockByNumber","params":["0x1",false]}`
		if code, _ := rpcWithTrace(t, "http://"+addr(rpcPort)+"/devnet", body, "00-"+traceID+"-"+parentID+"-01"); code != 200 {
			t.Fatalf("call with a sampled traceparent: HTTP %d", code)
		}
	}
	all := func(*tracepb.Span) bool { return true }

	t.Run("untrusted with sample_rate 0", func(t *testing.T) {
		sink := newOTLPSink(t)
		p, relay, rpcPort := startTracedGateway(t, sink, "  sample_rate: 0\n", "")
		call(t, rpcPort, "tr-untrusted")
		if tp, ok := relay.traceparent("tr-untrusted"); !ok || tp != "" {
			t.Errorf("the node received the call %v with traceparent %q, want none", ok, tp)
		}
		// Shutdown exports the spans still held: after it, none can come.
		if code, _ := p.terminate(30 * time.Second); code != 0 {
			t.Fatalf("exit code %d after SIGTERM", code)
		}
		for _, sp := range sink.find(all) {
			t.Errorf("span %q of trace %x exported: a client's sampled traceparent forced the trace", sp.Name, sp.TraceId)
		}
	})

	t.Run("trusted with sample_rate 0", func(t *testing.T) {
		sink := newOTLPSink(t)
		p, relay, rpcPort := startTracedGateway(t, sink, "  sample_rate: 0\n  trust_incoming: true\n", "")
		call(t, rpcPort, "tr-trusted")
		var server []*tracepb.Span
		eventually(t, time.Minute, "the server span of the call", func() bool {
			server = sink.find(isServer)
			return len(server) > 0
		})
		if sp := server[0]; hex.EncodeToString(sp.TraceId) != traceID || hex.EncodeToString(sp.ParentSpanId) != parentID {
			t.Errorf("server span of trace %x, parent %x; want the client's trace %s and span %s", sp.TraceId, sp.ParentSpanId, traceID, parentID)
		}
		if tp, _ := relay.traceparent("tr-trusted"); !strings.HasPrefix(tp, "00-"+traceID+"-") {
			t.Errorf("the node received traceparent %q, want one of trace %s", tp, traceID)
		}
		if code, _ := p.terminate(30 * time.Second); code != 0 {
			t.Fatalf("exit code %d after SIGTERM", code)
		}
	})

	t.Run("untrusted with sample_rate 1", func(t *testing.T) {
		sink := newOTLPSink(t)
		p, relay, rpcPort := startTracedGateway(t, sink, "  sample_rate: 1\n  trust_incoming: false\n", "")
		call(t, rpcPort, "tr-linked")
		var server, tries []*tracepb.Span
		eventually(t, time.Minute, "the server span and try span of the call", func() bool {
			server, tries = sink.find(isServer), sink.find(isClient)
			return len(server) > 0 && len(tries) > 0
		})
		sp := server[0]
		own := hex.EncodeToString(sp.TraceId)
		if own == traceID || len(sp.ParentSpanId) != 0 {
			t.Errorf("server span of trace %s with parent %x; want a trace of its own, without a parent", own, sp.ParentSpanId)
		}
		if len(sp.Links) != 1 || hex.EncodeToString(sp.Links[0].TraceId) != traceID || hex.EncodeToString(sp.Links[0].SpanId) != parentID {
			t.Errorf("server span links %v; want one to the client's span %s of trace %s", sp.Links, parentID, traceID)
		}
		if try := tries[0]; hex.EncodeToString(try.TraceId) != own || !bytes.Equal(try.ParentSpanId, sp.SpanId) {
			t.Errorf("try span of trace %x, parent %x; want a child of the server span %x", try.TraceId, try.ParentSpanId, sp.SpanId)
		}
		if tp, _ := relay.traceparent("tr-linked"); !strings.HasPrefix(tp, "00-"+own+"-") {
			t.Errorf("the node received traceparent %q, want one of the gateway's trace %s", tp, own)
		}
		if code, _ := p.terminate(30 * time.Second); code != 0 {
			t.Fatalf("exit code %d after SIGTERM", code)
		}
	})
}

// A call over a client WebSocket is a server span named after its method,
// with the attributes of an HTTP request's span but the HTTP ones, naming
// the access key but never its secret; its try on the node is a child
// span, whose traceparent the node receives. The span starts a trace of
// its own, linked to the upgrade request's traceparent.
func TestTracingWebSocketAsProcess(t *testing.T) {
	const key = "proc-trace-0123456789abcdef"
	sink := newOTLPSink(t)
	p, relay, rpcPort := startTracedGateway(t, sink, "  sample_rate: 1\n",
		"access:\n  keys:\n    - name: tracer\n      key: "+key+"\n")
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()

	const upgradeTrace, upgradeSpan = "9bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"
	c, _, err := websocket.Dial(ctx, "ws://"+addr(rpcPort)+"/devnet/"+key, &websocket.DialOptions{
		HTTPHeader: http.Header{"Traceparent": {"00-" + upgradeTrace + "-" + upgradeSpan + "-01"}}})
	if err != nil {
		t.Fatalf("WebSocket upgrade: %v", err)
	}
	defer c.CloseNow()
	got := wsCall(ctx, t, c, `{"jsonrpc":"2.0","id":"tr-ws","method":"eth_getBlockByNumber","params":["0x1",false]}`)
	if !strings.Contains(got, `"result":{`) {
		t.Fatalf("eth_getBlockByNumber over the WebSocket: %s", got)
	}

	var server, tries []*tracepb.Span
	eventually(t, time.Minute, "the server span and try span of the WebSocket call", func() bool {
		server, tries = sink.find(isServer), sink.find(isClient)
		return len(server) > 0 && len(tries) > 0
	})
	if len(server) != 1 || len(tries) != 1 {
		t.Fatalf("%d server spans and %d try spans, want one of each", len(server), len(tries))
	}
	sp := server[0]
	if sp.Name != "eth_getBlockByNumber" {
		t.Errorf("server span named %q, want eth_getBlockByNumber", sp.Name)
	}
	for k, want := range map[string]string{
		"rpc.method": "eth_getBlockByNumber", "rpc.system": "jsonrpc", "evmgate.network": "devnet",
		"network.protocol.name": "websocket", "evmgate.status": "ok", "evmgate.key": "tracer", "evmgate.node": "fake",
	} {
		if v := spanAttr(sp, k); v != want {
			t.Errorf("server span %s = %q, want %q", k, v, want)
		}
	}
	if spanAttr(sp, "evmgate.request_id") == "" {
		t.Errorf("server span without evmgate.request_id: %v", sp.Attributes)
	}
	for _, k := range []string{"http.request.method", "http.response.status_code"} {
		if hasAttr(sp, k) {
			t.Errorf("server span of a WebSocket call has %s", k)
		}
	}
	for _, kv := range sp.Attributes {
		if strings.Contains(kv.Value.String(), key) {
			t.Errorf("server span attribute %s holds the key's secret", kv.Key)
		}
	}
	own := hex.EncodeToString(sp.TraceId)
	if own == upgradeTrace || len(sp.ParentSpanId) != 0 {
		t.Errorf("server span of trace %s with parent %x; want a trace of its own, without a parent", own, sp.ParentSpanId)
	}
	if len(sp.Links) != 1 || hex.EncodeToString(sp.Links[0].TraceId) != upgradeTrace || hex.EncodeToString(sp.Links[0].SpanId) != upgradeSpan {
		t.Errorf("server span links %v; want one to the upgrade request's span %s of trace %s", sp.Links, upgradeSpan, upgradeTrace)
	}
	try := tries[0]
	if !bytes.Equal(try.ParentSpanId, sp.SpanId) || hex.EncodeToString(try.TraceId) != own || spanAttr(try, "evmgate.node") != "fake" {
		t.Errorf("try span %q of trace %x, parent %x; want a child of the server span %x naming node fake", try.Name, try.TraceId, try.ParentSpanId, sp.SpanId)
	}
	if tp, _ := relay.traceparent("tr-ws"); tp != "00-"+own+"-"+hex.EncodeToString(try.SpanId)+"-01" {
		t.Errorf("the node received traceparent %q, want the try's span %x of trace %s", tp, try.SpanId, own)
	}
	if bad := sink.invalid(); len(bad) > 0 {
		t.Fatalf("exports the collector could not read: %v", bad)
	}
	c.Close(websocket.StatusNormalClosure, "")
	if code, _ := p.terminate(30 * time.Second); code != 0 {
		t.Fatalf("exit code %d after SIGTERM", code)
	}
}
