package gateway_test

import (
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/evmgate/evmgate/internal/gateway"
	"github.com/evmgate/evmgate/internal/redistest"
)

// hammer posts body to url from workers goroutines until the deadline (and
// at most 20,000 calls each), and counts the answers by status.
func hammer(t *testing.T, url, body string, workers int, d time.Duration) (counts map[int]int64, elapsed time.Duration) {
	t.Helper()
	var mu sync.Mutex
	counts = map[int]int64{}
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: workers}, Timeout: 10 * time.Second}
	defer client.CloseIdleConnections()
	start := time.Now()
	deadline := start.Add(d)
	var last atomic.Int64
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 20_000 && time.Now().Before(deadline); i++ {
				last.Store(int64(time.Since(start)))
				resp, err := client.Post(url, "application/json", strings.NewReader(body))
				code := -1
				if err == nil {
					_, _ = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					code = resp.StatusCode
				}
				mu.Lock()
				counts[code]++
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	return counts, time.Duration(last.Load())
}

func TestSharedRateLimitAcrossThreeGateways(t *testing.T) {
	rs := redistest.New(t)
	rs.Start()
	f := fakes(t, 1)[0]
	dir := t.TempDir()
	shared := func(mode string) string {
		return fmt.Sprintf("  shared_limits: true\n  redis_fail_mode: %s\n  keys:\n    - name: shared\n      key: %s\n      limit: {rate: 100, burst: 20}\n", mode, aliceKey)
	}
	var gws []*gateway.Gateway
	for i := range 3 {
		yaml := strings.Replace(accessYAML(f, filepath.Join(dir, fmt.Sprint(i)), shared("open")), "admin:\n", "redis_url: "+rs.URL()+"\nadmin:\n", 1)
		gws = append(gws, startGateway(t, yaml))
	}
	closed := startGateway(t, strings.Replace(accessYAML(f, filepath.Join(dir, "c"), shared("closed")), "admin:\n", "redis_url: "+rs.URL()+"\nadmin:\n", 1))

	const window = 3 * time.Second
	var wg sync.WaitGroup
	var mu sync.Mutex
	total := map[int]int64{}
	var longest time.Duration
	began := time.Now()
	for _, g := range gws {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, el := hammer(t, g.RPCURL()+"/mainnet/"+aliceKey, blockNumber, 3, window)
			mu.Lock()
			defer mu.Unlock()
			for k, v := range c {
				total[k] += v
			}
			longest = max(longest, el)
		}()
	}
	wg.Wait()
	// The upper bound takes the whole time the limiter may have seen calls
	// (from the first client's start to the last answer): never too short.
	want := 100*time.Since(began).Seconds() + 20
	served := float64(total[200])
	t.Logf("three gateways, %s: %d served, %d refused with 429 (%.1f calls/s served; want 100 ± 5%%)",
		longest.Round(time.Millisecond), total[200], total[429], (served-20)/longest.Seconds())
	if len(total) > 2 || total[429] == 0 {
		t.Fatalf("answers by status: %v", total)
	}
	if served > want*1.05 {
		t.Fatalf("served %v calls in %s, want %.0f ± 5%%: the replicas do not share the limit", served, longest, want)
	}
	// The lower bound holds only while the clients keep the key saturated;
	// a machine too busy to send ten times the limit leaves gaps longer
	// than the burst lasts.
	switch saturated := float64(total[429]) > 10*served; {
	case saturated && served < want*0.95:
		t.Fatalf("served %v calls in %s, want %.0f ± 5%%", served, longest, want)
	case !saturated:
		t.Logf("only %d calls refused: the clients did not keep the key saturated, the lower bound is not checked", total[429])
	}

	// Redis stops: fail-open replicas serve (limited by each alone);
	// a fail-closed one refuses with 503.
	rs.Stop() // this replica's local buckets are untouched: full
	waitFor(t, "a fail-open replica serving with Redis stopped", func() bool {
		r := post(t, gws[0].RPCURL()+"/mainnet/"+aliceKey, blockNumber)
		if r.status == 503 {
			t.Fatalf("fail-open with Redis stopped: %d %s", r.status, r.body)
		}
		return r.status == 200
	})
	wantRefusal(t, "fail-closed with Redis stopped", post(t, closed.RPCURL()+"/mainnet/"+aliceKey, blockNumber),
		503, -32075, "rate limits cannot be checked now")
	rs.Start()
	waitFor(t, "the shared limits back with Redis", func() bool {
		return post(t, closed.RPCURL()+"/mainnet/"+aliceKey, blockNumber).status == 200
	})
}

// twoKeysYAML is a gateway with a key limited to 50 calls/s (bursty) and
// an unlimited one (calm), in front of a fake node.
func twoKeysYAML(t *testing.T) string {
	return accessYAML(fakes(t, 1)[0], filepath.Join(t.TempDir(), "s"), `  keys:
    - name: bursty
      key: `+aliceKey+`
      limit: {rate: 50, burst: 50}
    - name: calm
      key: calm-0123456789abcdef
`)
}

// TestBurstFromOneKeyLeavesAnotherServed: one key over its limit is
// refused before queueing, so another key's calls are all answered; the
// other key's latency with and without the burst is reported.
func TestBurstFromOneKeyLeavesAnotherServed(t *testing.T) {
	g := startGateway(t, twoKeysYAML(t))
	calm := func(d time.Duration) (lat []time.Duration, bad int) {
		client := &http.Client{Timeout: 10 * time.Second}
		defer client.CloseIdleConnections()
		for end := time.Now().Add(d); time.Now().Before(end) && len(lat) < 20_000; {
			s := time.Now()
			resp, err := client.Post(g.RPCURL()+"/mainnet/calm-0123456789abcdef", "application/json", strings.NewReader(blockNumber))
			if err != nil {
				bad++
				continue
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 {
				bad++
			}
			lat = append(lat, time.Since(s))
			time.Sleep(2 * time.Millisecond) // a steady client, not a flood
		}
		return lat, bad
	}
	p99 := func(l []time.Duration) time.Duration {
		slices.Sort(l)
		return l[len(l)*99/100]
	}
	base, bad := calm(2 * time.Second)
	if bad > 0 {
		t.Fatalf("calm alone: %d calls not answered with 200", bad)
	}
	done := make(chan map[int]int64)
	go func() {
		c, _ := hammer(t, g.RPCURL()+"/mainnet/"+aliceKey, blockNumber, 4, 2500*time.Millisecond)
		done <- c
	}()
	during, bad := calm(2 * time.Second)
	burst := <-done
	t.Logf("calm key p99: %s alone, %s during the other key's burst (%d served, %d refused with 429); %d and %d calls",
		p99(base), p99(during), burst[200], burst[429], len(base), len(during))
	if bad > 0 {
		t.Fatalf("calm during the burst: %d calls not answered with 200", bad)
	}
	if burst[429] == 0 {
		t.Fatalf("the burst was never limited: %v", burst)
	}
}

// TestPacedBurstAndAnotherKeysLatency: one key sends 20 times its limit
// (1,000 calls/s against 50/s) in windows that alternate with quiet ones,
// while a steady client of another key calls throughout. Every one of the
// steady client's calls is answered, and the burst is limited; the steady
// client's p99 in the burst windows against the quiet ones is reported
// (median over the windows of each kind), not asserted: a timing bound
// would fail on a busy machine.
func TestPacedBurstAndAnotherKeysLatency(t *testing.T) {
	if testing.Short() {
		t.Skip("a measurement of about 10 s")
	}
	g := startQuietGateway(t, twoKeysYAML(t))
	const windows, window, rate = 5, time.Second, 1000
	calmURL, burstURL := g.RPCURL()+"/mainnet/calm-0123456789abcdef", g.RPCURL()+"/mainnet/"+aliceKey
	calm := &http.Client{Timeout: 10 * time.Second}
	defer calm.CloseIdleConnections()
	call := func(c *http.Client, url string) int {
		resp, err := c.Post(url, "application/json", strings.NewReader(blockNumber))
		if err != nil {
			return -1
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode
	}
	// burst sends rate calls/s from two paced senders until stop.
	burst := func(stop <-chan struct{}, counts *[2]atomic.Int64) *sync.WaitGroup {
		var wg sync.WaitGroup
		for range 2 {
			wg.Go(func() {
				c := &http.Client{Timeout: 10 * time.Second}
				defer c.CloseIdleConnections()
				next := time.Now()
				for {
					select {
					case <-stop:
						return
					default:
					}
					if call(c, burstURL) == http.StatusTooManyRequests {
						counts[1].Add(1)
					} else {
						counts[0].Add(1)
					}
					next = next.Add(2 * time.Second / rate)
					if d := time.Until(next); d > 0 {
						time.Sleep(d) // pacing the sender, not waiting for an event
					}
				}
			})
		}
		return &wg
	}
	p99s := [2][]time.Duration{} // quiet, burst
	var counts [2]atomic.Int64
	for w := range 2 * windows {
		on := w%2 == 1
		stop := make(chan struct{})
		var senders *sync.WaitGroup
		if on {
			senders = burst(stop, &counts)
		}
		var lat []time.Duration
		for end := time.Now().Add(window); time.Now().Before(end); {
			s := time.Now()
			if code := call(calm, calmURL); code != 200 {
				t.Fatalf("the steady key's call got %d", code)
			}
			lat = append(lat, time.Since(s))
			time.Sleep(2 * time.Millisecond) // a steady client
		}
		close(stop)
		if senders != nil {
			senders.Wait()
		}
		slices.Sort(lat)
		k := 0
		if on {
			k = 1
		}
		p99s[k] = append(p99s[k], lat[len(lat)*99/100])
	}
	if counts[1].Load() == 0 {
		t.Fatalf("the burst was never limited: %d served", counts[0].Load())
	}
	med := func(d []time.Duration) time.Duration { slices.Sort(d); return d[len(d)/2] }
	quiet, busy := med(p99s[0]), med(p99s[1])
	t.Logf("steady key p99, median of %d windows: %s quiet, %s during the other key's burst (%+.0f %%); burst: %d served, %d refused with 429",
		windows, quiet, busy, 100*(float64(busy)/float64(quiet)-1), counts[0].Load(), counts[1].Load())
}
