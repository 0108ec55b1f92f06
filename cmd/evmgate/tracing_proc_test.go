//go:build !nodemo

package main

import (
	"bytes"
	"encoding/hex"
	"path/filepath"
	"strings"
	"testing"
	"time"

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
