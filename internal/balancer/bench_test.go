package balancer

import (
	"fmt"
	"testing"
	"time"

	"github.com/evmgate/evmgate/internal/upstream"
)

func benchPool(b *testing.B, n int) *Pool {
	nodes := make([]*upstream.Node, n)
	for i := range nodes {
		nodes[i] = upstream.New(upstream.Spec{Name: fmt.Sprintf("n%d", i), URL: "http://127.0.0.1:1"})
		nodes[i].SetState(upstream.Up)
		nodes[i].ObserveHead(1000, 0, time.Duration(i+1)*time.Millisecond)
	}
	return NewPool(Rules{NetworkBlockDiff: 5, FallbackBlockDiff: 5, Priority: []Criterion{ByChainhead, ByLatency}, Strategy: P2C{}}, nodes)
}

func BenchmarkPick(b *testing.B) {
	for _, n := range []int{3, 10} {
		b.Run(fmt.Sprintf("p2c/%d", n), func(b *testing.B) {
			p := benchPool(b, n)
			b.ReportAllocs()
			for b.Loop() {
				nd := p.Pick(nil, Need{})
				if nd == nil {
					b.Fatal("no node")
				}
				nd.Release()
			}
		})
	}
}
