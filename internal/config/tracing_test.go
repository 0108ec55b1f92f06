package config

import (
	"slices"
	"strings"
	"testing"
)

// TestTracing: the section is off, with every request sampled and clients'
// trace context not trusted, unless written; what is written is read; a
// change needs a restart.
func TestTracing(t *testing.T) {
	const nets = "networks:\n  - name: m\n    local_nodes: [{rpc_endpoint: http://a:1}]\n"
	cfg := mustParse(t, nets)
	tr := cfg.Tracing
	if tr.Enabled || tr.Endpoint != "" || tr.SampleRate == nil || *tr.SampleRate != 1 || tr.ServiceName != "" || len(tr.Headers) != 0 || tr.TrustIncoming {
		t.Fatalf("defaults: %+v (sample_rate %v)", tr, tr.SampleRate)
	}
	lookup := func(k string) (string, bool) {
		if k == "COLLECTOR_KEY" {
			return "s3cret", true
		}
		return "", false
	}
	c, err := Parse([]byte("tracing:\n  enabled: true\n  endpoint: https://otel.example:4318\n  sample_rate: 0\n"+
		"  service_name: rpc-gw\n  trust_incoming: true\n  headers:\n    x-api-key: ${COLLECTOR_KEY}\n"+nets), lookup)
	if err != nil {
		t.Fatal(err)
	}
	tr = c.Tracing
	if !tr.Enabled || tr.Endpoint != "https://otel.example:4318" || *tr.SampleRate != 0 || tr.ServiceName != "rpc-gw" || tr.Headers["x-api-key"] != "s3cret" || !tr.TrustIncoming {
		t.Fatalf("written: %+v (sample_rate %v)", tr, *tr.SampleRate)
	}
	old := mustParse(t, reloadBase)
	got, keys := Reloadable(old, mustParse(t, reloadBase+"tracing:\n  enabled: true\n  sample_rate: 0.5\n  trust_incoming: true\n"))
	if !slices.Equal(keys, []string{"tracing.enabled", "tracing.sample_rate", "tracing.trust_incoming"}) || got.Tracing.Enabled || got.Tracing.TrustIncoming {
		t.Fatalf("reload: restart keys %v, enabled %v", keys, got.Tracing.Enabled)
	}
}

// TestTracingInvalid: each error names the key and the fix.
func TestTracingInvalid(t *testing.T) {
	const nets = "networks:\n  - name: m\n    local_nodes: [{rpc_endpoint: http://a:1}]\n"
	for _, tt := range []struct{ yaml, want string }{
		{"tracing:\n  sample_rate: 1.5\n", "tracing.sample_rate: 1.5 is not a share of requests: use a number from 0"},
		{"tracing:\n  sample_rate: -0.1\n", "tracing.sample_rate: -0.1 is not a share"},
		{"tracing:\n  endpoint: otel-collector:4318\n", `tracing.endpoint: "otel-collector:4318" is not an http:// or https:// URL: write the collector's OTLP/HTTP address`},
		{"tracing:\n  endpoint: grpc://collector:4317\n", "is not an http:// or https:// URL"},
		{"tracing:\n  endpoint: http://u:pw@collector:4318/?apikey=SECRET\n", `tracing.endpoint: "http://collector:4318" has a query or fragment`},
		{"tracing:\n  headers:\n    \"bad key\": v\n", `tracing.headers: "bad key" is not a header name`},
		{"tracing:\n  sample_rte: 1\n", `unknown key "sample_rte"`},
		{"tracing:\n  trust_incoming: maybe\n", `tracing.trust_incoming: "maybe" is not true or false`},
		{"tracing:\n  trust_incoming: [a]\n", `tracing.trust_incoming: is a list, not true or false`},
	} {
		_, err := Parse([]byte(tt.yaml+nets), noEnv)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%q: error %v, want it to contain %q", tt.yaml, err, tt.want)
		}
		if err != nil && (strings.Contains(err.Error(), "SECRET") || strings.Contains(err.Error(), ":pw@")) {
			t.Errorf("%q: the error shows a secret of the endpoint: %v", tt.yaml, err)
		}
	}
}
