package sched

import (
	"context"
	"errors"
	"math/rand/v2"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// stressCounts tallies how every Wait of the stress test ended.
type stressCounts struct {
	granted, full, expired, canceled, closed atomic.Int64
}

// TestStress runs many calls that wait, retry, expire, get canceled and
// release their slots concurrently with spurious Kicks and reads. Every
// Wait must return exactly once, a call gets a slot if and only if Wait
// returned nil, every slot comes back, and the counters add up.
func TestStress(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name       string
		cfg        Config
		closeEarly bool
	}{
		{"head-of-line", Config{MaxQueued: [NumClasses]int{3, 3, 3}, LowShare: 3, LowMaxWait: time.Millisecond}, false},
		{"lookahead", Config{MaxQueued: [NumClasses]int{3, 3, 3}, Lookahead: 2}, false},
		{"closed mid-run", Config{}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			runStress(t, tc.cfg, tc.closeEarly)
		})
	}
}

func runStress(t *testing.T, cfg Config, closeEarly bool) {
	const (
		callers = 12
		calls   = 400
		slots   = 3
	)
	s := New(cfg, nil)
	var free atomic.Int64
	free.Store(slots)
	var n stressCounts
	var wg sync.WaitGroup
	stop := make(chan struct{})
	var bg sync.WaitGroup
	bg.Add(1)
	go func() { // spurious kicks and locked reads
		defer bg.Done()
		for {
			select {
			case <-stop:
				return
			default:
			}
			s.Kick()
			_ = s.Len()
			_ = s.Stats()
			runtime.Gosched()
		}
	}()
	for g := range callers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(g), 7))
			for i := range calls {
				if closeEarly && g == 0 && i == calls/2 {
					s.Close()
				}
				stressCall(t, s, &free, &n, rng)
			}
		}()
	}
	wg.Wait()
	close(stop)
	bg.Wait()

	if got := free.Load(); got != slots {
		t.Errorf("free slots at the end = %d, want %d (a grant was lost or doubled)", got, slots)
	}
	if l := s.Len(); l != [NumClasses]int{} {
		t.Errorf("Len at the end = %v", l)
	}
	total := n.granted.Load() + n.full.Load() + n.expired.Load() + n.canceled.Load() + n.closed.Load()
	if total != callers*calls {
		t.Errorf("%d Waits returned, want %d", total, callers*calls)
	}
	st := s.Stats()
	sum := func(a [NumClasses]uint64) int64 { return int64(a[0] + a[1] + a[2]) }
	if sum(st.Granted) != n.granted.Load() || sum(st.Rejected) != n.full.Load() ||
		sum(st.Expired) != n.expired.Load() || sum(st.Canceled) != n.canceled.Load() {
		t.Errorf("Stats %+v do not match outcomes granted=%d full=%d expired=%d canceled=%d",
			st, n.granted.Load(), n.full.Load(), n.expired.Load(), n.canceled.Load())
	}
	t.Logf("granted=%d full=%d expired=%d canceled=%d closed=%d", n.granted.Load(), n.full.Load(), n.expired.Load(), n.canceled.Load(), n.closed.Load())
	if n.granted.Load() == 0 || (!closeEarly && (n.expired.Load() == 0 || n.canceled.Load() == 0)) {
		t.Errorf("stress did not exercise every path: granted=%d expired=%d canceled=%d",
			n.granted.Load(), n.expired.Load(), n.canceled.Load())
	}
}

// stressCall makes one call with a random class, retry flag and context.
func stressCall(t *testing.T, s *Scheduler, free *atomic.Int64, n *stressCounts, rng *rand.Rand) {
	var took atomic.Int32
	try := func() bool {
		for {
			f := free.Load()
			if f <= 0 {
				return false
			}
			if free.CompareAndSwap(f, f-1) {
				took.Add(1)
				return true
			}
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	switch rng.IntN(6) {
	case 0:
		ctx, cancel = context.WithTimeout(ctx, time.Duration(rng.IntN(200))*time.Microsecond)
		defer cancel()
	case 1:
		stopCancel := make(chan struct{})
		defer close(stopCancel)
		go func() {
			runtime.Gosched()
			select {
			case <-stopCancel:
			default:
				cancel()
			}
		}()
	}
	err := s.Wait(ctx, Class(rng.IntN(NumClasses)), rng.IntN(10) == 0, try)
	if got, want := took.Load(), int32(0); err == nil {
		want = 1
		if got != want {
			t.Errorf("granted call reserved %d slots", got)
		}
		runtime.Gosched()
		free.Add(1)
		s.Kick()
		n.granted.Add(1)
		return
	} else if got != want {
		t.Errorf("call that failed with %v reserved %d slots", err, got)
	}
	switch {
	case errors.Is(err, ErrQueueFull):
		n.full.Add(1)
	case errors.Is(err, ErrExpired):
		n.expired.Add(1)
	case errors.Is(err, context.Canceled):
		n.canceled.Add(1)
	case errors.Is(err, ErrClosed):
		n.closed.Add(1)
	default:
		t.Errorf("unexpected error %v", err)
	}
}
