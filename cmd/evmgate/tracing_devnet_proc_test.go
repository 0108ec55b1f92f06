//go:build !nodemo

package main

import (
	"bytes"
	"context"
	"encoding/hex"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/proto"
)

// otlpSink is an OTLP/HTTP collector: it keeps the spans posted to
// /v1/traces.
type otlpSink struct {
	srv   *httptest.Server
	mu    sync.Mutex // mu protects spans and bad
	spans []*tracepb.Span
	bad   []string // what was not a valid export
}

func newOTLPSink(t *testing.T) *otlpSink {
	s := &otlpSink{}
	s.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		var req coltracepb.ExportTraceServiceRequest
		err := proto.Unmarshal(body, &req)
		s.mu.Lock()
		defer s.mu.Unlock()
		if r.Method != http.MethodPost || r.URL.Path != "/v1/traces" || r.Header.Get("Content-Type") != "application/x-protobuf" || err != nil {
			s.bad = append(s.bad, r.Method+" "+r.URL.Path+" "+r.Header.Get("Content-Type"))
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		for _, rs := range req.ResourceSpans {
			for _, ss := range rs.ScopeSpans {
				s.spans = append(s.spans, ss.Spans...)
			}
		}
		out, _ := proto.Marshal(&coltracepb.ExportTraceServiceResponse{})
		w.Header().Set("Content-Type", "application/x-protobuf")
		_, _ = w.Write(out)
	}))
	t.Cleanup(s.srv.Close)
	return s
}

// find returns the spans that match.
func (s *otlpSink) find(match func(*tracepb.Span) bool) []*tracepb.Span {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []*tracepb.Span
	for _, sp := range s.spans {
		if match(sp) {
			out = append(out, sp)
		}
	}
	return out
}

func (s *otlpSink) invalid() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.bad...)
}

func spanAttr(sp *tracepb.Span, key string) string {
	for _, kv := range sp.Attributes {
		if kv.Key == key {
			return kv.Value.GetStringValue()
		}
	}
	return ""
}

// traceRelay stands in front of a node and records the traceparent of
// each call by the call's id.
type traceRelay struct {
	srv *httptest.Server
	mu  sync.Mutex        // mu protects got
	got map[string]string // call id -> traceparent ("" when none)
}

func newTraceRelay(t *testing.T, nodeURL string) *traceRelay {
	r := &traceRelay{got: map[string]string{}}
	r.srv = relay(t, nodeURL, func(req *http.Request, body []byte) {
		if i := bytes.Index(body, []byte(`"id":"tr-`)); i >= 0 {
			id, _, _ := strings.Cut(string(body[i+6:]), `"`)
			r.mu.Lock()
			r.got[id] = req.Header.Get("Traceparent")
			r.mu.Unlock()
		}
	})
	return r
}

func (r *traceRelay) traceparent(id string) (string, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	tp, ok := r.got[id]
	return tp, ok
}

// rpcWithTrace posts a call with a traceparent header ("": none) and
// returns the answer's status and X-Request-Id.
func rpcWithTrace(t *testing.T, url, body, traceparent string) (status int, requestID string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	if traceparent != "" {
		req.Header.Set("traceparent", traceparent)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("POST %s: %v", url, err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode, resp.Header.Get("X-Request-Id")
}

// tracingConfig is a configuration with tracing on, exporting to sink,
// with the tracing: keys given (each line indented by two spaces), and a
// network "devnet" of the nodes given as name, URL pairs.
func tracingConfig(rpcPort, metricsPort int, sink string, keys string, nodes ...string) string {
	cfg := listeners(rpcPort, metricsPort) + "tracing:\n  enabled: true\n  endpoint: " + sink + "\n" + keys +
		"networks:\n  - name: devnet\n    chain_id: 1337\n    cache: false\n    strategy: round_robin\n" +
		"    local_poll_interval: 1m\n    local_nodes:\n"
	for i := 0; i+1 < len(nodes); i += 2 {
		cfg += "      - name: " + nodes[i] + "\n        rpc_endpoint: " + nodes[i+1] + "\n"
	}
	return cfg
}

// The binary with tracing on, in front of a real go-ethereum node: a call
// with a sampled traceparent, from a trusted client, is a server span of
// the client's trace, its try a child span naming the node, and the node
// receives a traceparent of the same trace naming that try; a try on a
// node that is gone is a span with an error status.
func TestTracingAsProcessDevnet(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
	defer cancel()
	nd := minedNode(ctx, t)
	sink := newOTLPSink(t)
	geth, gone := newTraceRelay(t, nd.HTTPURL()), newTraceRelay(t, nd.HTTPURL())
	rpcPort, metricsPort := freePort(t), freePort(t)
	cfg := filepath.Join(t.TempDir(), "evmgate.yaml")
	writeFile(t, cfg, tracingConfig(rpcPort, metricsPort, sink.srv.URL, "  sample_rate: 1\n  trust_incoming: true\n", "geth", geth.srv.URL, "gone", gone.srv.URL))
	// The batch span processor exports every 200ms rather than every 5s.
	p := startProc(t, []string{"OTEL_BSP_SCHEDULE_DELAY=200"}, "-config", cfg)
	p.waitOutput(p.stderr, "gateway started", 2*time.Minute)
	gw := "http://" + addr(rpcPort) + "/devnet"

	const traceID, parentID = "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"
	// Round robin: of two calls, one goes to each node.
	answered := map[string]bool{} // the X-Request-Id of each answer
	for i, id := range []string{"tr-1", "tr-2"} {
		body := `{"jsonrpc":"2.0","id":"` + id + `","method":"eth_getBlockByNumber","params":["0x1",false]}`
		code, reqID := rpcWithTrace(t, gw, body, "00-"+traceID+"-"+parentID+"-01")
		if code != 200 || reqID == "" {
			t.Fatalf("call %d: HTTP %d, X-Request-Id %q", i, code, reqID)
		}
		answered[reqID] = true
	}
	var server, tries []*tracepb.Span
	eventually(t, time.Minute, "the server spans and try spans of both calls", func() bool {
		server = sink.find(func(sp *tracepb.Span) bool {
			return hex.EncodeToString(sp.TraceId) == traceID && sp.Kind == tracepb.Span_SPAN_KIND_SERVER
		})
		tries = sink.find(func(sp *tracepb.Span) bool {
			return hex.EncodeToString(sp.TraceId) == traceID && sp.Kind == tracepb.Span_SPAN_KIND_CLIENT
		})
		return len(server) == 2 && len(tries) == 2
	})
	servers := map[string]*tracepb.Span{}
	for _, sp := range server {
		if hex.EncodeToString(sp.ParentSpanId) != parentID {
			t.Errorf("server span %q has parent %x, want the client's span %s", sp.Name, sp.ParentSpanId, parentID)
		}
		if m := spanAttr(sp, "rpc.method"); m != "eth_getBlockByNumber" || sp.Name != "eth_getBlockByNumber" {
			t.Errorf("server span %q: rpc.method %q, want eth_getBlockByNumber", sp.Name, m)
		}
		if spanAttr(sp, "evmgate.network") != "devnet" || spanAttr(sp, "evmgate.status") != "ok" || !answered[spanAttr(sp, "evmgate.request_id")] {
			t.Errorf("server span attributes: %v; want one of the request ids answered, %v", sp.Attributes, answered)
		}
		delete(answered, spanAttr(sp, "evmgate.request_id")) // each span names its own request
		servers[hex.EncodeToString(sp.SpanId)] = sp
	}
	nodes := map[string]bool{}
	for _, sp := range tries {
		node := spanAttr(sp, "evmgate.node")
		nodes[node] = true
		if servers[hex.EncodeToString(sp.ParentSpanId)] == nil {
			t.Errorf("try span %q is not a child of a server span", sp.Name)
		}
		if spanAttr(sp, "evmgate.outcome") != "ok" || sp.Status.GetCode() == tracepb.Status_STATUS_CODE_ERROR {
			t.Errorf("try span on %s: outcome %q status %v", node, spanAttr(sp, "evmgate.outcome"), sp.Status)
		}
		relay := map[string]*traceRelay{"geth": geth, "gone": gone}[node]
		if relay == nil {
			t.Fatalf("try span names node %q, want geth or gone", node)
		}
		// The node received the try's own span as its parent.
		want := "00-" + traceID + "-" + hex.EncodeToString(sp.SpanId) + "-01"
		got1, _ := relay.traceparent("tr-1")
		got2, _ := relay.traceparent("tr-2")
		if got1 != want && got2 != want {
			t.Errorf("node %s received traceparent %q / %q, want %q", node, got1, got2, want)
		}
	}
	if !nodes["geth"] || !nodes["gone"] {
		t.Fatalf("the two tries named nodes %v, want geth and gone", nodes)
	}

	// A node that is gone: its try is an error span, and the call is
	// answered by the other node.
	gone.srv.Close()
	const failTrace = "5bf92f3577b34da6a3ce929d0e0e4736"
	var failed []*tracepb.Span
	for i := 0; len(failed) == 0 && i < 6; i++ {
		body := `{"jsonrpc":"2.0","id":"tr-f` + itoa(i) + `","method":"eth_blockNumber","params":[]}`
		if code, _ := rpcWithTrace(t, gw, body, "00-"+failTrace+"-"+parentID+"-01"); code != 200 {
			t.Fatalf("call with a node gone: HTTP %d", code)
		}
		deadline := time.Now().Add(5 * time.Second)
		for len(failed) == 0 && time.Now().Before(deadline) {
			failed = sink.find(func(sp *tracepb.Span) bool {
				return hex.EncodeToString(sp.TraceId) == failTrace && spanAttr(sp, "evmgate.node") == "gone" && sp.Kind == tracepb.Span_SPAN_KIND_CLIENT
			})
			time.Sleep(50 * time.Millisecond)
		}
	}
	if len(failed) == 0 {
		t.Fatal("no try span on the node that is gone")
	}
	if sp := failed[0]; sp.Status.GetCode() != tracepb.Status_STATUS_CODE_ERROR || spanAttr(sp, "evmgate.outcome") != "dial" {
		t.Fatalf("try on the node that is gone: status %v, outcome %q; want an error, dial", sp.Status, spanAttr(sp, "evmgate.outcome"))
	}
	if bad := sink.invalid(); len(bad) > 0 {
		t.Fatalf("exports the collector could not read: %v", bad)
	}
	if code, _ := p.terminate(30 * time.Second); code != 0 {
		t.Fatalf("exit code %d after SIGTERM", code)
	}
}

// With sample_rate 0, a call without a traceparent is not traced: no span
// is exported and the node receives no traceparent; a call whose
// traceparent is sampled is still traced when clients are trusted
// (parent-based sampling).
func TestTracingUnsampledAsProcessDevnet(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
	defer cancel()
	nd := minedNode(ctx, t)
	sink := newOTLPSink(t)
	relay := newTraceRelay(t, nd.HTTPURL())
	rpcPort, metricsPort := freePort(t), freePort(t)
	cfg := filepath.Join(t.TempDir(), "evmgate.yaml")
	writeFile(t, cfg, tracingConfig(rpcPort, metricsPort, sink.srv.URL, "  sample_rate: 0\n  trust_incoming: true\n", "geth", relay.srv.URL))
	p := startProc(t, []string{"OTEL_BSP_SCHEDULE_DELAY=200"}, "-config", cfg)
	p.waitOutput(p.stderr, "gateway started", 2*time.Minute)
	gw := "http://" + addr(rpcPort) + "/devnet"

	if code, _ := rpcWithTrace(t, gw, `{"jsonrpc":"2.0","id":"tr-quiet","method":"eth_blockNumber","params":[]}`, ""); code != 200 {
		t.Fatalf("unsampled call: HTTP %d", code)
	}
	if tp, ok := relay.traceparent("tr-quiet"); !ok || tp != "" {
		t.Fatalf("the node received the unsampled call %v with traceparent %q, want none", ok, tp)
	}
	const traceID = "6bf92f3577b34da6a3ce929d0e0e4736"
	if code, _ := rpcWithTrace(t, gw, `{"jsonrpc":"2.0","id":"tr-sampled","method":"eth_blockNumber","params":[]}`,
		"00-"+traceID+"-00f067aa0ba902b7-01"); code != 200 {
		t.Fatalf("sampled call: HTTP %d", code)
	}
	// Spans are exported in the order they end: once the sampled call's
	// are in, an unsampled call's would be too.
	eventually(t, time.Minute, "the sampled call's spans", func() bool {
		return len(sink.find(func(sp *tracepb.Span) bool { return sp.Kind == tracepb.Span_SPAN_KIND_CLIENT })) > 0
	})
	all := sink.find(func(*tracepb.Span) bool { return true })
	for _, sp := range all {
		if hex.EncodeToString(sp.TraceId) != traceID {
			t.Errorf("span %q of trace %x exported with sample_rate 0 and no traceparent", sp.Name, sp.TraceId)
		}
	}
	if len(all) != 2 {
		t.Errorf("%d spans exported, want the sampled call's server span and try span", len(all))
	}
	if tp, _ := relay.traceparent("tr-sampled"); !strings.HasPrefix(tp, "00-"+traceID+"-") {
		t.Errorf("the node received traceparent %q for the sampled call, want trace %s", tp, traceID)
	}
	if code, _ := p.terminate(30 * time.Second); code != 0 {
		t.Fatalf("exit code %d after SIGTERM", code)
	}
}
