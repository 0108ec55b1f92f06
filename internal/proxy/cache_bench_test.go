package proxy_test

import (
	"net/http"
	"testing"

	"github.com/evmgate/evmgate/internal/cache"
)

// BenchmarkForwardCache is BenchmarkForward's small call through a handler
// with the cache on: "dedup" is eth_blockNumber (never kept, but joined as
// the leader of its flight and copied as it streams), "hit" a finalized
// block answered from memory.
func BenchmarkForwardCache(b *testing.B) {
	for _, bc := range []struct {
		name string
		body []byte
		hit  bool
	}{
		{"dedup", blockNumberBody, false},
		{"hit", blockBody, true},
	} {
		b.Run(bc.name, func(b *testing.B) {
			h := newBenchHandler(b, []string{startReplayNode(b), startReplayNode(b)})
			store, err := cache.New(cache.Config{MaxBytes: 64 << 20, MaxItemBytes: 1 << 20, Dedup: true}, nil)
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(store.Close)
			h.Network("bench").Cache = store.Network("bench", chainAt(100))
			req, body := newBenchRequest(b, bc.body)
			w := &discardWriter{header: http.Header{}}
			serve := func() {
				body.Reset(bc.body)
				clear(w.header)
				w.reset()
				h.ServeHTTP(w, req)
			}
			serve()
			serve()
			if w.status != http.StatusOK || (w.header.Get("X-Cache") == "HIT") != bc.hit {
				b.Fatalf("answer %d, X-Cache %q", w.status, w.header.Get("X-Cache"))
			}
			b.ReportAllocs()
			b.SetBytes(int64(w.size))
			for b.Loop() {
				serve()
			}
		})
	}
}
