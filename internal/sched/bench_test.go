package sched

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
)

// slotPool is a counter of free worker slots, as a balancer's try would
// use (an atomic in-flight count against a maximum).
type slotPool struct{ free atomic.Int64 }

func (p *slotPool) take() bool {
	for {
		f := p.free.Load()
		if f <= 0 {
			return false
		}
		if p.free.CompareAndSwap(f, f-1) {
			return true
		}
	}
}

// BenchmarkQueue runs prio-load-balancer's queue cases through the real
// call path: an op starts calls goroutines (one per call, as HTTP handlers
// are, classes in turn) that queue for workers worker slots; a granted call
// frees its slot at once and kicks, which grants the next call. The
// starting loop outruns the grants, so most calls wait in the queue and
// are woken by a grant. The chan-semaphore
// variant does the same with a buffered channel as the only limiter (no
// classes, no bounds, no expiry): it is the floor set by goroutine start,
// park and wake-up.
func BenchmarkQueue(b *testing.B) {
	for _, bc := range []struct{ calls, workers int }{{10_000, 1}, {10_000, 5}, {100_000, 5}} {
		for _, kind := range []string{"sched", "chan-semaphore"} {
			b.Run(fmt.Sprintf("calls=%d/workers=%d/%s", bc.calls, bc.workers, kind), func(b *testing.B) {
				b.ReportAllocs()
				pc := startPerCall()
				for b.Loop() {
					if kind == "sched" {
						backlogRound(b, bc.calls, bc.workers)
					} else {
						semaphoreRound(bc.calls, bc.workers)
					}
				}
				pc.report(b, bc.calls)
			})
		}
	}
}

func backlogRound(b *testing.B, calls, workers int) {
	// The backlog may hold every call: bound the queues above that.
	s := New(Config{MaxQueued: [NumClasses]int{calls, calls, calls}}, nil)
	var slots slotPool
	take := slots.take
	ctx := context.Background()
	var wg sync.WaitGroup
	wg.Add(calls)
	for i := range calls {
		go func() {
			defer wg.Done()
			if err := s.Wait(ctx, Class(i%NumClasses), false, take); err != nil {
				b.Error(err)
				return
			}
			slots.free.Add(1)
			s.Kick()
		}()
		if i == 0 {
			slots.free.Store(int64(workers)) // the workers come free as the backlog builds
			s.Kick()
		}
	}
	wg.Wait()
}

func semaphoreRound(calls, workers int) {
	sem := make(chan struct{}, workers)
	var wg sync.WaitGroup
	wg.Add(calls)
	for range calls {
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			<-sem
		}()
	}
	wg.Wait()
}

// BenchmarkGrantHandoff is prio-load-balancer's benchmark shape taken
// literally: one producer frees a slot and kicks, calls times, while
// workers goroutines loop on Wait. The producer stays ahead, so nearly
// every Wait takes the fast path: this measures grant handoff under lock
// contention, not queuing (BenchmarkQueue does).
func BenchmarkGrantHandoff(b *testing.B) {
	for _, bc := range []struct{ calls, workers int }{{10_000, 1}, {10_000, 5}, {100_000, 5}} {
		b.Run(fmt.Sprintf("calls=%d/workers=%d", bc.calls, bc.workers), func(b *testing.B) {
			b.ReportAllocs()
			pc := startPerCall()
			for b.Loop() {
				handoffRound(b, bc.calls, bc.workers)
			}
			pc.report(b, bc.calls)
		})
	}
}

func handoffRound(b *testing.B, calls, workers int) {
	s := New(Config{}, nil)
	var slots slotPool
	var consumed atomic.Int64
	done := make(chan struct{})
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ctx, take := context.Background(), slots.take
			for i := w; ; i++ {
				if err := s.Wait(ctx, Class(i%NumClasses), false, take); err != nil {
					if !errors.Is(err, ErrClosed) {
						b.Error(err)
					}
					return
				}
				if consumed.Add(1) == int64(calls) {
					close(done)
				}
			}
		}()
	}
	for range calls {
		slots.free.Add(1)
		s.Kick()
	}
	<-done
	s.Close()
	wg.Wait()
}

// BenchmarkContended is the gateway's busy case: callers goroutines (HTTP
// handlers) share slots worker slots, so nearly every call queues, is
// granted by the Kick of a call that ends, and wakes up.
func BenchmarkContended(b *testing.B) {
	for _, bc := range []struct{ calls, callers, slots int }{{10_000, 32, 1}, {10_000, 32, 5}} {
		b.Run(fmt.Sprintf("calls=%d/callers=%d/slots=%d", bc.calls, bc.callers, bc.slots), func(b *testing.B) {
			b.ReportAllocs()
			pc := startPerCall()
			for b.Loop() {
				contendedRound(b, bc.calls, bc.callers, bc.slots)
			}
			pc.report(b, bc.calls)
		})
	}
}

func contendedRound(b *testing.B, calls, callers, nslots int) {
	s := New(Config{}, nil)
	var slots slotPool
	slots.free.Store(int64(nslots))
	var tickets atomic.Int64
	var wg sync.WaitGroup
	for c := range callers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ctx, take := context.Background(), slots.take
			for i := c; tickets.Add(1) <= int64(calls); i++ {
				if err := s.Wait(ctx, Class(i%NumClasses), false, take); err != nil {
					b.Error(err)
					return
				}
				slots.free.Add(1)
				s.Kick()
			}
		}()
	}
	wg.Wait()
}

// BenchmarkFastPath is an uncontended call: nothing waits and a slot is
// free, so Wait grants at once; the call then frees the slot and kicks.
func BenchmarkFastPath(b *testing.B) {
	s := New(Config{}, nil)
	var slots slotPool
	slots.free.Store(1)
	ctx, take := context.Background(), slots.take
	b.ReportAllocs()
	for b.Loop() {
		if err := s.Wait(ctx, High, false, take); err != nil {
			b.Fatal(err)
		}
		slots.free.Add(1)
		s.Kick()
	}
}

// perCall measures a benchmark's allocations; report divides them and the
// elapsed time by the number of calls.
type perCall struct{ mallocs uint64 }

func startPerCall() perCall {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return perCall{mallocs: ms.Mallocs}
}

func (p perCall) report(b *testing.B, calls int) {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	n := float64(b.N) * float64(calls)
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/n, "ns/call")
	b.ReportMetric(float64(ms.Mallocs-p.mallocs)/n, "allocs/call")
}
