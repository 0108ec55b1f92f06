package gateway_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/evmgate/evmgate/internal/fakenode"
	"github.com/evmgate/evmgate/internal/gateway"
)

// balanceCounts returns each fake's eth_getBalance count: the probes never
// make that call, so it is the calls the balancer placed there.
func balanceCounts(f []*fakenode.Node) []int64 {
	out := make([]int64, len(f))
	for i, n := range f {
		out[i] = n.Calls("eth_getBalance")
	}
	return out
}

// shares turns the counts between two readings into fractions of the total.
func shares(before, after []int64) ([]float64, int64) {
	var total int64
	for i := range after {
		total += after[i] - before[i]
	}
	out := make([]float64, len(after))
	for i := range after {
		if total > 0 {
			out[i] = float64(after[i]-before[i]) / float64(total)
		}
	}
	return out, total
}

func waitHealthy(t *testing.T, g *gateway.Gateway, n int) {
	t.Helper()
	waitFor(t, fmt.Sprintf("%d eligible nodes", n), func() bool { return g.Status().Networks[0].Healthy == n })
}

// TestEqualNodesShareSequentialCalls: with one call at a time (nothing in
// flight when the balancer picks), two equal nodes share the calls, and
// /status reports each node's share.
func TestEqualNodesShareSequentialCalls(t *testing.T) {
	f := fakes(t, 2)
	g := startGateway(t, netYAML("", nodesYAML("local_nodes", f...)))
	waitHealthy(t, g, 2)
	before := balanceCounts(f)
	for i := range 200 {
		if r := post(t, g.RPCURL()+"/mainnet", getBalance); r.status != 200 || !strings.Contains(r.body, "result") {
			t.Fatalf("call %d: %d %s", i, r.status, r.body)
		}
	}
	got, total := shares(before, balanceCounts(f))
	t.Logf("200 sequential calls: fake0 %.1f%%, fake1 %.1f%%", 100*got[0], 100*got[1])
	if total != 200 {
		t.Fatalf("the nodes saw %d calls, want 200", total)
	}
	for i, s := range got {
		if s < 0.35 || s > 0.65 {
			t.Errorf("fake%d served %.1f%% of the calls, want 35%%..65%%", i, 100*s)
		}
	}

	// /status, over HTTP: each node's share of the recent calls.
	st := getStatus(t, g.MetricsURL()+"/status")
	sum := 0.0
	for _, nd := range st.Networks[0].Nodes {
		t.Logf("/status: %s share %.3f, %.1f calls/s", nd.Name, nd.Share, nd.CallsPerSecond)
		if nd.Share < 0.3 || nd.Share > 0.7 || nd.CallsPerSecond <= 0 {
			t.Errorf("/status: %s share %v, calls_per_second %v", nd.Name, nd.Share, nd.CallsPerSecond)
		}
		sum += nd.Share
	}
	if sum < 0.99 || sum > 1.01 {
		t.Errorf("/status: shares sum to %v, want 1", sum)
	}
}

// getStatus reads GET /status and checks that every node carries the share
// fields by name.
func getStatus(t *testing.T, url string) gateway.Status {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	var raw struct {
		Networks []struct {
			Nodes []map[string]json.RawMessage `json:"nodes"`
		} `json:"networks"`
	}
	if err := json.Unmarshal(body, &raw); err != nil || len(raw.Networks) == 0 {
		t.Fatalf("/status: %v: %s", err, body)
	}
	for _, nd := range raw.Networks[0].Nodes {
		for _, key := range []string{"share", "calls_per_second"} {
			if _, ok := nd[key]; !ok {
				t.Fatalf("/status: a node lacks %q: %s", key, body)
			}
		}
	}
	var st gateway.Status
	if err := json.Unmarshal(body, &st); err != nil {
		t.Fatal(err)
	}
	return st
}

// spreadLoad runs clients that each send eth_getBalance calls one after another
// until the test ends.
func spreadLoad(t *testing.T, url string, clients int) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	hc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: clients}}
	var wg sync.WaitGroup
	errs := make(chan error, clients)
	for range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				req, _ := http.NewRequestWithContext(ctx, http.MethodPost, url, strings.NewReader(getBalance))
				req.Header.Set("Content-Type", "application/json")
				resp, err := hc.Do(req)
				if err != nil {
					if ctx.Err() == nil {
						errs <- err
					}
					return
				}
				body, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode != 200 || !strings.Contains(string(body), "result") {
					errs <- fmt.Errorf("client saw %d %s", resp.StatusCode, body)
					return
				}
			}
		}()
	}
	t.Cleanup(func() {
		cancel()
		wg.Wait()
		hc.CloseIdleConnections()
		close(errs)
		for err := range errs {
			t.Error(err)
		}
	})
}

// window waits until the fakes have served n more calls (generous deadline)
// and returns the shares of those calls.
func window(t *testing.T, f []*fakenode.Node, n int64) []float64 {
	t.Helper()
	before := balanceCounts(f)
	var got []float64
	waitFor(t, fmt.Sprintf("%d calls", n), func() bool {
		var total int64
		got, total = shares(before, balanceCounts(f))
		return total >= n
	})
	return got
}

// TestSlowNodeGetsLessAndRecovers: under 16 concurrent clients, a node
// three times slower than its peer serves at most a quarter of the calls,
// and gets its share back soon after it recovers.
func TestSlowNodeGetsLessAndRecovers(t *testing.T) {
	// Long enough that the gateway's own time per call on a busy host (tens
	// of milliseconds under the race detector) does not blur "3× slower".
	const base = 50 * time.Millisecond
	f := fakes(t, 2)
	for _, n := range f {
		n.SetDelay(base)
	}
	g := startGateway(t, netYAML("", nodesYAML("local_nodes", f...)))
	waitHealthy(t, g, 2)
	spreadLoad(t, g.RPCURL()+"/mainnet", 16)

	eq := window(t, f, 300)
	t.Logf("equal nodes, 16 clients: fake0 %.1f%%, fake1 %.1f%%", 100*eq[0], 100*eq[1])

	f[1].SetDelay(3 * base)
	window(t, f, 100) // the estimate follows on the slow node's first answers
	slow := window(t, f, 400)
	t.Logf("fake1 3x slower, 16 clients: fake0 %.1f%%, fake1 %.1f%%", 100*slow[0], 100*slow[1])
	if slow[1] > 0.25 {
		t.Errorf("the slow node served %.1f%% of the calls, want at most 25%%", 100*slow[1])
	}

	f[1].SetDelay(base)
	recovered := time.Now()
	deadline := recovered.Add(60 * time.Second)
	for {
		w := window(t, f, 200)
		t.Logf("%5.1fs after recovery, 200 calls: fake0 %.1f%%, fake1 %.1f%%", time.Since(recovered).Seconds(), 100*w[0], 100*w[1])
		if w[1] >= 0.35 && w[1] <= 0.65 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the recovered node did not get its share back within %s", deadline.Sub(recovered))
		}
	}
	after := window(t, f, 400)
	t.Logf("recovered, next 400 calls: fake0 %.1f%%, fake1 %.1f%%", 100*after[0], 100*after[1])
	if after[1] < 0.3 || after[1] > 0.7 {
		t.Errorf("after recovery the node served %.1f%% of the calls, want 30%%..70%%", 100*after[1])
	}
}
