package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/ethereum/go-ethereum/rpc"
)

// loadShape is a bounded closed-loop load: clients each send one call,
// wait for its answer, and send the next.
type loadShape struct {
	Clients  int
	Duration time.Duration
}

// drillShape is the drills' load: 32 clients for 8 s, or 16 clients for 6 s
// under the race detector, which slows geth several times over.
func drillShape() loadShape {
	if raceEnabled {
		return loadShape{Clients: 16, Duration: 6 * time.Second}
	}
	return loadShape{Clients: 32, Duration: 8 * time.Second}
}

// sample is one client call.
type sample struct {
	start  time.Time
	took   time.Duration
	method string
	err    error
}

// loadCall sends the i-th call of the mix: calls at the head and a read of
// a fixed block, all of which every healthy node can answer.
func loadCall(ctx context.Context, c *rpc.Client, i int, faucet string) (string, error) {
	var raw json.RawMessage
	var method string
	var err error
	switch i % 5 {
	case 0:
		method = "eth_blockNumber"
		err = c.CallContext(ctx, &raw, method)
	case 1:
		method = "eth_getBlockByNumber"
		err = c.CallContext(ctx, &raw, method, "latest", false)
	case 2:
		method = "eth_getBalance"
		err = c.CallContext(ctx, &raw, method, faucet, "latest")
	case 3:
		method = "eth_call"
		err = c.CallContext(ctx, &raw, method, map[string]any{"to": identityPrecompile, "data": hexutil.Bytes("load")}, "latest")
	default:
		method = "eth_getBlockByNumber"
		err = c.CallContext(ctx, &raw, method, "0x1", true)
	}
	if err == nil && (len(raw) == 0 || string(raw) == "null") {
		err = errors.New("result is null")
	}
	return method, err
}

// loadRun is the outcome of runLoad: every client's samples.
type loadRun struct {
	start   time.Time
	samples [][]sample
}

// runLoad runs the closed loop until stop is closed or ctx ends.
func runLoad(ctx context.Context, c *rpc.Client, clients int, faucet string, stop <-chan struct{}) loadRun {
	run := loadRun{start: time.Now()}
	out := make([][]sample, clients)
	var wg sync.WaitGroup
	for w := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; ; i++ {
				select {
				case <-stop:
					return
				case <-ctx.Done():
					return
				default:
				}
				s := sample{start: time.Now()}
				s.method, s.err = loadCall(ctx, c, i, faucet)
				s.took = time.Since(s.start)
				if ctx.Err() != nil {
					return // the test is over; the call did not fail on its own
				}
				out[w] = append(out[w], s)
			}
		}()
	}
	wg.Wait()
	run.samples = out
	return run
}

// loadStats summarises samples.
type loadStats struct {
	Calls, Failures int
	Errors          []string // the first few failures
	P50, P99, Max   time.Duration
	Elapsed         time.Duration
}

// summarize covers the samples that started in [from, to); zero times mean
// no bound.
func summarize(run loadRun, from, to time.Time) loadStats {
	var st loadStats
	var lat []time.Duration
	var first, last time.Time
	for _, ss := range run.samples {
		for _, s := range ss {
			if (!from.IsZero() && s.start.Before(from)) || (!to.IsZero() && !s.start.Before(to)) {
				continue
			}
			st.Calls++
			lat = append(lat, s.took)
			if first.IsZero() || s.start.Before(first) {
				first = s.start
			}
			if end := s.start.Add(s.took); end.After(last) {
				last = end
			}
			if s.err != nil {
				st.Failures++
				if len(st.Errors) < 5 {
					st.Errors = append(st.Errors, fmt.Sprintf("%s at +%s: %v", s.method, s.start.Sub(run.start).Round(time.Millisecond), s.err))
				}
			}
		}
	}
	if len(lat) == 0 {
		return st
	}
	slices.Sort(lat)
	st.P50 = lat[len(lat)/2]
	st.P99 = lat[len(lat)*99/100]
	st.Max = lat[len(lat)-1]
	st.Elapsed = last.Sub(first)
	return st
}

func (s loadStats) String() string {
	rate := 0.0
	if s.Elapsed > 0 {
		rate = float64(s.Calls) / s.Elapsed.Seconds()
	}
	return fmt.Sprintf("%d calls (%.0f/s), %d failed, p50 %s, p99 %s, max %s",
		s.Calls, rate, s.Failures, s.P50.Round(10*time.Microsecond), s.P99.Round(10*time.Microsecond), s.Max.Round(time.Millisecond))
}
