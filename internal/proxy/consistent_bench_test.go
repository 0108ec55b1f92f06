package proxy_test

import (
	"bytes"
	"log/slog"
	"net/http"
	"testing"
	"time"

	"github.com/evmgate/evmgate/internal/balancer"
	"github.com/evmgate/evmgate/internal/consistent"
	"github.com/evmgate/evmgate/internal/metrics"
	"github.com/evmgate/evmgate/internal/proxy"
	"github.com/evmgate/evmgate/internal/upstream"
	"github.com/prometheus/client_golang/prometheus"
)

// BenchmarkForwardConsistent is BenchmarkForward's small call and batch
// with consistent reads: "off" has no client table (the path before it),
// "anonymous" has one but the call names no client, "client" sends
// X-Client-ID, so the client's head is looked up, applied and recorded.
func BenchmarkForwardConsistent(b *testing.B) {
	for _, bc := range []struct {
		name    string
		body    []byte
		results int
	}{{"blockNumber", blockNumberBody, 1}, {"batch10", batch10Body, 10}} {
		for _, mode := range []string{"off", "anonymous", "client"} {
			b.Run(bc.name+"/"+mode, func(b *testing.B) {
				h := newConsistentHandler(b, []string{startReplayNode(b), startReplayNode(b)}, mode != "off")
				req, body := newBenchRequest(b, bc.body)
				if mode == "client" {
					req.Header.Set(proxy.ClientHeader, "bench-client-1")
				}
				w := &discardWriter{header: http.Header{}}
				serve := func() {
					body.Reset(bc.body)
					clear(w.header)
					w.reset()
					h.ServeHTTP(w, req)
				}
				serve()
				if w.status != http.StatusOK || bytes.Count(w.head, []byte(`"result"`)) != bc.results {
					b.Fatalf("answer %d %q, want %d results", w.status, w.head, bc.results)
				}
				b.ReportAllocs()
				b.ResetTimer()
				for b.Loop() {
					serve()
				}
			})
		}
	}
}

// TestConsistentAnonymousCallsCostNothingMore: with a client table, a call
// without X-Client-ID allocates what it did without one.
func TestConsistentAnonymousCallsCostNothingMore(t *testing.T) {
	if testing.Short() || raceEnabled {
		t.Skip("measures allocations over many calls (not comparable under -race)")
	}
	node := startReplayNode(t)
	allocs := func(on bool) float64 {
		h := newConsistentHandler(t, []string{node}, on)
		req, body := newBenchRequest(t, blockNumberBody)
		w := &discardWriter{header: http.Header{}}
		return testing.AllocsPerRun(200, func() {
			body.Reset(blockNumberBody)
			clear(w.header)
			w.reset()
			h.ServeHTTP(w, req)
		})
	}
	off, on := allocs(false), allocs(true)
	if on > off {
		t.Fatalf("a call without a client id allocates %.1f times with consistent reads on, %.1f without", on, off)
	}
}

// newConsistentHandler is newBenchHandler with consistent reads on or off.
func newConsistentHandler(b testing.TB, urls []string, on bool) *proxy.Handler {
	b.Helper()
	var ups []*upstream.Node
	for i, u := range urls {
		n := healthyNode(u, string(rune('a'+i)), time.Millisecond)
		b.Cleanup(n.Close)
		ups = append(ups, n)
	}
	m, err := metrics.New(prometheus.NewRegistry(), func() []metrics.Network { return nil })
	if err != nil {
		b.Fatal(err)
	}
	net := &proxy.Network{Name: "bench", Pool: balancer.NewPool(balancer.Rules{NetworkBlockDiff: 5}, ups),
		Health: observer{}, Retries: 2, TryTimeout: 5 * time.Second}
	if on {
		if net.Consistent, err = consistent.New(consistent.Settings{}); err != nil {
			b.Fatal(err)
		}
	}
	opts := proxy.Options{MaxBodyBytes: 8 << 20, MaxBatchSize: 1000, RequestTimeout: 30 * time.Second}
	return proxy.New(opts, []*proxy.Network{net}, slog.New(slog.DiscardHandler), m)
}
