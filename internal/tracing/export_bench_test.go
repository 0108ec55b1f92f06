package tracing

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

// BenchmarkExportSpans posts a batch of spans, as the batch span processor
// hands them over, to a collector on 127.0.0.1 that reads and drops them.
func BenchmarkExportSpans(b *testing.B) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
	}))
	defer srv.Close()
	names := make([]string, 512) // OTEL_BSP_MAX_EXPORT_BATCH_SIZE's default
	for i := range names {
		names[i] = fmt.Sprintf("eth_call %d", i%8)
	}
	batch := spans(names...)
	for _, gz := range []bool{false, true} {
		b.Run(fmt.Sprintf("gzip=%v", gz), func(b *testing.B) {
			e := newExporter(exportConfig{URL: srv.URL + "/v1/traces", Timeout: 10 * time.Second, Gzip: gz, UserAgent: "evmgate"})
			defer e.Shutdown(context.Background())
			b.ReportAllocs()
			for b.Loop() {
				if err := e.ExportSpans(context.Background(), batch); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
