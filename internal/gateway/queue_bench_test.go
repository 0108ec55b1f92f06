package gateway

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/evmgate/evmgate/internal/balancer"
	"github.com/evmgate/evmgate/internal/config"
	"github.com/evmgate/evmgate/internal/metrics"
	"github.com/evmgate/evmgate/internal/sched"
	"github.com/evmgate/evmgate/internal/upstream"
	"github.com/prometheus/client_golang/prometheus"
)

// BenchmarkQueuedAcquire is one grant and release of a worker slot through
// a network's priority scheduler when a slot is free: the scheduler's share
// of every call's path.
func BenchmarkQueuedAcquire(b *testing.B) {
	m, err := metrics.New(prometheus.NewRegistry(), func() []metrics.Network { return nil })
	if err != nil {
		b.Fatal(err)
	}
	g := &Gateway{log: slog.New(slog.DiscardHandler), metrics: m}
	n := upstream.New(upstream.Spec{Name: "a", Network: "bench", URL: "http://127.0.0.1:1", Timeout: time.Second, MaxConcurrency: 8})
	defer n.Close()
	n.SetChainID(1)
	n.SetState(upstream.Up)
	n.ObserveHead(100, time.Now().Unix(), time.Millisecond)
	pool := balancer.NewPool(balancer.Rules{NetworkBlockDiff: 5}, []*upstream.Node{n})
	var c config.Scheduler
	c.Default()
	q, err := newQueued(c, "bench", pool, g)
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		got, err := q.Acquire(ctx, sched.High, false, nil, balancer.Need{})
		if err != nil {
			b.Fatal(err)
		}
		q.Release(got)
	}
}
