package main

import (
	"path/filepath"
	"strings"
	"testing"
)

// OTEL_* values that cannot be used stop the start with the variable's
// name (never a crash), and validate refuses what start refuses.
func TestTracingEnvironmentErrorsAsProcess(t *testing.T) {
	cfg := filepath.Join(t.TempDir(), "evmgate.yaml")
	writeFile(t, cfg, listeners(freePort(t), freePort(t))+"tracing:\n  enabled: true\n  endpoint: http://127.0.0.1:1\n"+
		"networks:\n  - name: m\n    local_nodes:\n      - rpc_endpoint: http://127.0.0.1:1\n")
	if code, out, errOut := runProc(t, "validate", "-config", cfg); code != 0 {
		t.Fatalf("validate without OTEL_*: exit %d\n%s%s", code, out, errOut)
	}
	for _, env := range []string{
		"OTEL_BSP_MAX_QUEUE_SIZE=-3",
		"OTEL_BSP_MAX_EXPORT_BATCH_SIZE=99999999999",
		"OTEL_BSP_SCHEDULE_DELAY=5s",
		"OTEL_EXPORTER_OTLP_TIMEOUT=10s",
		"OTEL_EXPORTER_OTLP_PROTOCOL=grpc",
		"OTEL_RESOURCE_ATTRIBUTES=foo",
	} {
		name, _, _ := strings.Cut(env, "=")
		for _, args := range [][]string{{"validate", "-config", cfg}, {"-config", cfg}} {
			code, _, errOut := runProcEnv(t, []string{env}, args...)
			if code == 0 || !strings.Contains(errOut, name) || strings.Contains(errOut, "panic") {
				t.Errorf("%s evmgate %s: exit %d\n%s\nwant a refusal naming %s", env, strings.Join(args, " "), code, errOut, name)
			}
		}
	}
}
