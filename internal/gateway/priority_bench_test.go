package gateway_test

import (
	"bytes"
	"io"
	"net/http"
	"slices"
	"sync"
	"testing"
	"time"
)

// BenchmarkPriorityUnderSaturation measures call latency per priority class
// while low-priority clients saturate the nodes' workers: two nodes that take
// 2 ms per call with 4 workers each (about 4,000 calls/s in all), 64
// closed-loop low-priority clients, 4 fast-track and 4 high-priority clients,
// against an idle call's latency on the same setup.
//
//	go test -run '^$' -bench PriorityUnderSaturation -benchtime 1x ./internal/gateway
func BenchmarkPriorityUnderSaturation(b *testing.B) {
	for i := 0; i < b.N; i++ {
		runPriorityBench(b)
	}
}

func runPriorityBench(b *testing.B) {
	f := fakesB(b, 2)
	for _, n := range f {
		n.SetDelay(2 * time.Millisecond)
	}
	g := startGatewayB(b, "log_requests: false\n"+netYAML("    max_concurrency: 4\n    rpc_timeout: 10s\n", nodesYAML("local_nodes", f...)))
	url := g.RPCURL() + "/mainnet"
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 128}}
	call := func(hdr string) time.Duration {
		req, _ := http.NewRequest(http.MethodPost, url, bytes.NewReader([]byte(getBalance)))
		req.Header.Set("Content-Type", "application/json")
		if hdr != "" {
			req.Header.Set(hdr, "true")
		}
		start := time.Now()
		resp, err := client.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			b.Fatalf("status %d", resp.StatusCode)
		}
		return time.Since(start)
	}
	var idle []time.Duration
	for i := 0; i < 200; i++ {
		idle = append(idle, call(""))
	}

	const dur = 5 * time.Second
	stop := time.Now().Add(dur)
	var mu sync.Mutex
	lat := map[string][]time.Duration{}
	var wg sync.WaitGroup
	run := func(class, hdr string, clients int) {
		for c := 0; c < clients; c++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				var mine []time.Duration
				for time.Now().Before(stop) {
					mine = append(mine, call(hdr))
				}
				mu.Lock()
				lat[class] = append(lat[class], mine...)
				mu.Unlock()
			}()
		}
	}
	run("low", "", 64)
	run("fast_track", "X-Fast-Track", 4)
	run("high", "X-High-Priority", 4)
	wg.Wait()

	report := func(name string, d []time.Duration) {
		slices.Sort(d)
		p := func(q float64) float64 { return float64(d[int(q*float64(len(d)-1))].Microseconds()) / 1000 }
		b.ReportMetric(p(0.5), name+"-p50-ms")
		b.ReportMetric(p(0.99), name+"-p99-ms")
		b.ReportMetric(float64(len(d))/dur.Seconds(), name+"-calls/s")
	}
	report("idle", idle)
	for _, class := range []string{"fast_track", "high", "low"} {
		report(class, lat[class])
	}
}
