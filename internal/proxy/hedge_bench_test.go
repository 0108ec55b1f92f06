package proxy_test

import (
	"bytes"
	"log/slog"
	"net/http"
	"testing"
	"time"

	"github.com/evmgate/evmgate/internal/balancer"
	"github.com/evmgate/evmgate/internal/breaker"
	"github.com/evmgate/evmgate/internal/hedge"
	"github.com/evmgate/evmgate/internal/metrics"
	"github.com/evmgate/evmgate/internal/proxy"
	"github.com/evmgate/evmgate/internal/upstream"
	"github.com/prometheus/client_golang/prometheus"
)

// BenchmarkResilience is BenchmarkForward's small call with hedging and
// circuit breakers off and on. With hedging on, the node answers long
// before the hedging delay: the figure is the cost of racing a try that
// needs no copy (a goroutine, a timer, the answer-time histogram). The
// breaker adds one gobreaker call per outcome.
func BenchmarkResilience(b *testing.B) {
	for _, bc := range []struct {
		name     string
		hedge    bool
		breakers bool
	}{
		{"off", false, false},
		{"hedging", true, false},
		{"breaker", false, true},
		{"both", true, true},
	} {
		b.Run(bc.name, func(b *testing.B) {
			h := newResilienceHandler(b, bc.hedge, bc.breakers)
			req, body := newBenchRequest(b, blockNumberBody)
			w := &discardWriter{header: http.Header{}}
			serve := func() {
				body.Reset(blockNumberBody)
				clear(w.header)
				w.reset()
				h.ServeHTTP(w, req)
			}
			serve()
			if w.status != http.StatusOK || !bytes.Contains(w.head, []byte(`"result"`)) {
				b.Fatalf("answer %d %q", w.status, w.head)
			}
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				serve()
			}
		})
	}
}

func newResilienceHandler(b *testing.B, hedging, breakers bool) *proxy.Handler {
	var ups []*upstream.Node
	for i, u := range []string{startReplayNode(b), startReplayNode(b)} {
		n := healthyNode(u, string(rune('a'+i)), time.Millisecond)
		b.Cleanup(n.Close)
		ups = append(ups, n)
	}
	reg := prometheus.NewRegistry()
	m, err := metrics.New(reg, func() []metrics.Network { return nil })
	if err != nil {
		b.Fatal(err)
	}
	net := &proxy.Network{Name: "bench", Pool: balancer.NewPool(balancer.Rules{NetworkBlockDiff: 5}, ups),
		Health: observer{}, Retries: 2, TryTimeout: 5 * time.Second}
	if hedging {
		hm, err := hedge.NewMetrics(reg)
		if err != nil {
			b.Fatal(err)
		}
		net.Hedge = hedge.New("bench", hedge.Settings{Quantile: 0.95, MinDelay: time.Second, MaxDelay: time.Second}, hm)
	}
	if breakers {
		bm, err := breaker.NewMetrics(reg)
		if err != nil {
			b.Fatal(err)
		}
		set := breaker.New("bench", breaker.Settings{Failures: 10, Ratio: 0.5, Window: 10 * time.Second, Cooldown: 5 * time.Second}, nil, bm)
		b.Cleanup(set.Close)
		net.Health = set
	}
	opts := proxy.Options{MaxBodyBytes: 8 << 20, MaxBatchSize: 1000, RequestTimeout: 30 * time.Second}
	return proxy.New(opts, []*proxy.Network{net}, slog.New(slog.DiscardHandler), m)
}
