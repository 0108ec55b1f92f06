package main

import (
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// The "gateway started" line says where spans go and at what sample rate
// when tracing is on, without the endpoint's credentials, query or
// fragment and without the export headers; with tracing off it says
// nothing of tracing.
func TestTracingNamedAtStartAsProcess(t *testing.T) {
	node := fakeNodes(t, 1, 1)[0]
	collector := addr(freePort(t)) // nothing listens: no span is sent before the line
	nodes := "networks:\n  - name: m\n    local_nodes:\n      - rpc_endpoint: " + node.URL() + "\n"
	secrets := []string{"otel-user", "CfgSecret1", "HeaderSecret2", "EnvSecret3", "QuerySecret4", "FragSecret5"}
	for _, tc := range []struct {
		name, tracing string
		env           []string
		want          []string // in the line; nil: nothing of tracing
	}{
		{
			name: "configured endpoint",
			tracing: "tracing:\n  enabled: true\n  endpoint: http://otel-user:CfgSecret1@" + collector + "\n  sample_rate: 0.25\n" +
				"  headers:\n    x-api-key: HeaderSecret2\n",
			want: []string{"tracing_endpoint=http://" + collector + "/v1/traces", "tracing_sample_rate=0.25", "tracing_trust_incoming=false"},
		},
		{
			name:    "endpoint from the environment",
			tracing: "tracing:\n  enabled: true\n",
			env: []string{"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT=http://otel-user:EnvSecret3@" + collector + "/custom?token=QuerySecret4#FragSecret5",
				"OTEL_EXPORTER_OTLP_HEADERS=x-api-key=HeaderSecret2"},
			want: []string{"tracing_endpoint=http://" + collector + "/custom ", "tracing_sample_rate=1"},
		},
		{name: "off", tracing: "tracing:\n  enabled: false\n  endpoint: http://" + collector + "\n"},
		{name: "off by OTEL_SDK_DISABLED", tracing: "tracing:\n  enabled: true\n  endpoint: http://" + collector + "\n", env: []string{"OTEL_SDK_DISABLED=true"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := filepath.Join(t.TempDir(), "evmgate.yaml")
			writeFile(t, cfg, listeners(freePort(t), freePort(t))+tc.tracing+nodes)
			p := startProc(t, tc.env, "-config", cfg)
			logs := p.waitOutput(p.stderr, "gateway started", 2*time.Minute)
			line := grepLines(logs, "gateway started")
			for _, want := range tc.want {
				if !strings.Contains(line+" ", want) {
					t.Errorf("the start line lacks %q:\n%s", want, line)
				}
			}
			if tc.want == nil && strings.Contains(line, "tracing") {
				t.Errorf("tracing is off, and the start line names it:\n%s", line)
			}
			for _, s := range secrets {
				if strings.Contains(logs, s) {
					t.Errorf("the logs show %q:\n%s", s, logs)
				}
			}
			if code, _ := p.terminate(time.Minute); code != 0 {
				t.Errorf("exit %d after SIGTERM", code)
			}
		})
	}
}
