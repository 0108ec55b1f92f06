package cache

import (
	"fmt"
	"runtime"
	"strings"
	"testing"
)

// BenchmarkMemoryPerCachedMB fills a store with 32 MiB of answers (blocks
// of one size, each under its own number) and reports the heap the store
// then holds, after a GC, per MiB of answers kept. The fill is done once
// per iteration into a new store; run it with -benchtime 1x.
func BenchmarkMemoryPerCachedMB(b *testing.B) {
	for _, size := range []int{1 << 10, 16 << 10, 100 << 10} {
		b.Run(fmt.Sprintf("answer=%dkB", size>>10), func(b *testing.B) {
			var perMB float64
			for b.Loop() {
				perMB = fillAndMeasure(b, size, 32<<20)
			}
			b.ReportMetric(perMB, "heap-B/cached-MiB")
			b.ReportMetric(0, "ns/op")
		})
	}
}

// fillAndMeasure keeps total bytes of answers of size bytes in a new store
// and returns the heap it grew by per MiB of answers kept.
func fillAndMeasure(b *testing.B, size, total int) float64 {
	b.Helper()
	result := `"` + strings.Repeat("ab", (size-60)/2) + `"`
	before := heapAfterGC()
	s, err := New(Config{MaxBytes: uint64(total) * 4, MaxItemBytes: 2 << 20}, nil)
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	n := s.Network("main", fixed(1<<40))
	kept := 0
	for i := 0; kept < total; i++ {
		c := call(b, fmt.Sprintf(`{"jsonrpc":"2.0","id":1,"method":"eth_getBlockByNumber","params":["0x%x",true]}`, i))
		cc := n.Prepare(c)
		resp := []byte(`{"jsonrpc":"2.0","id":1,"result":` + result + `}`)
		if !n.Put(&cc, resp, node1) {
			b.Fatalf("answer %d not kept", i)
		}
		kept += len(resp)
	}
	after := heapAfterGC()
	if got := s.Len(); got == 0 {
		b.Fatal("store is empty")
	}
	runtime.KeepAlive(n)
	return float64(after-before) / (float64(kept) / (1 << 20))
}

func heapAfterGC() uint64 {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}
