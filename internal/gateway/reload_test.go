package gateway_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/evmgate/evmgate/internal/config"
	"github.com/evmgate/evmgate/internal/fakenode"
	"github.com/evmgate/evmgate/internal/gateway"
)

const clientVersion = `{"jsonrpc":"2.0","id":1,"method":"web3_clientVersion","params":[]}`

// reloadTo parses text and reloads g with it.
func reloadTo(t *testing.T, g *gateway.Gateway, text string) {
	t.Helper()
	cfg, err := config.Parse([]byte(text), func(string) (string, bool) { return "", false })
	if err != nil {
		t.Fatalf("config: %v\n%s", err, text)
	}
	restart, err := g.Reload(context.Background(), cfg)
	if err != nil || len(restart) > 0 {
		t.Fatalf("reload: %v (restart needed for %v)", err, restart)
	}
}

// nodeYAML lists fake nodes with optional extra keys each.
func nodeYAML(tier, extra string, nodes ...*fakenode.Node) string {
	var b strings.Builder
	b.WriteString("    " + tier + ":\n")
	for _, n := range nodes {
		fmt.Fprintf(&b, "      - rpc_endpoint: %q\n        name: %s\n%s", n.URL(), n.Name, extra)
	}
	return b.String()
}

// load posts web3_clientVersion from several clients until stopped, and
// counts the calls and the failures.
type load struct {
	calls, failed atomic.Int64
	mu            sync.Mutex // mu protects firstFailure
	firstFailure  string
	stop          chan struct{}
	wg            sync.WaitGroup
}

func startLoad(url string, clients int) *load {
	l := &load{stop: make(chan struct{})}
	for range clients {
		l.wg.Go(func() {
			c := &http.Client{Timeout: 30 * time.Second}
			for {
				select {
				case <-l.stop:
					return
				default:
				}
				r, err := c.Post(url, "application/json", strings.NewReader(clientVersion))
				l.calls.Add(1)
				if err != nil {
					l.fail(err.Error())
					continue
				}
				var b strings.Builder
				_, _ = fmt.Fprint(&b, readAll(r))
				if r.StatusCode != 200 || !strings.Contains(b.String(), `"result"`) {
					l.fail(fmt.Sprintf("%d %s", r.StatusCode, b.String()))
				}
			}
		})
	}
	return l
}

func readAll(r *http.Response) string {
	defer r.Body.Close()
	var b strings.Builder
	buf := make([]byte, 4096)
	for {
		n, err := r.Body.Read(buf)
		b.Write(buf[:n])
		if err != nil {
			return b.String()
		}
	}
}

func (l *load) fail(msg string) {
	l.failed.Add(1)
	l.mu.Lock()
	if l.firstFailure == "" {
		l.firstFailure = msg
	}
	l.mu.Unlock()
}

func (l *load) end() {
	close(l.stop)
	l.wg.Wait()
}

// TestReloadUnderLoad rewrites the configuration ten times while four
// clients call without pause: nodes added and removed, weights, strategy,
// scheduler, probe settings, a network added and removed. No call fails,
// and each change takes effect when Reload returns.
func TestReloadUnderLoad(t *testing.T) {
	f := fakes(t, 4)
	head := "log_level: INFO\nlog_requests: false\n"
	mainnet := func(extra string, tiers ...string) string {
		return "networks:\n  - name: mainnet\n    local_poll_interval: 50ms\n    rpc_timeout: 2s\n" + extra + strings.Join(tiers, "")
	}
	base := "  - name: base\n    local_poll_interval: 50ms\n" + strings.ReplaceAll(nodeYAML("local_nodes", "", f[3]), "\n    ", "\n    ")
	g := startGateway(t, head+mainnet("", nodeYAML("local_nodes", "", f[0], f[1])))
	url := g.RPCURL() + "/mainnet"
	l := startLoad(url, 4)
	defer l.end()
	servedBy(t, url, f[0]) // the load is running

	nodeOf := func(name string) any {
		for _, n := range g.Nodes("mainnet") {
			if n.Name == name {
				return n
			}
		}
		return nil
	}
	f1 := nodeOf("fake1")
	var took []time.Duration
	step := func(what, text string) {
		t.Helper()
		start := time.Now()
		reloadTo(t, g, text)
		took = append(took, time.Since(start))
		t.Logf("reload %d (%s) took %v; %d calls so far", len(took), what, took[len(took)-1], l.calls.Load())
		next := l.calls.Load() + 100
		waitFor(t, "the load to go on after the reload", func() bool { return l.calls.Load() >= next })
	}

	step("add a node", head+mainnet("", nodeYAML("local_nodes", "", f[0], f[1], f[2])))
	waitFor(t, "the added node to serve", func() bool { return servedBy(t, url, f[2]) })
	if nodeOf("fake1") != f1 {
		t.Fatal("an unchanged node was replaced: its live state is lost")
	}

	step("remove a node", head+mainnet("", nodeYAML("local_nodes", "", f[1], f[2])))
	for range 50 {
		post(t, url, clientVersion) // calls that were on fake0 at the swap end meanwhile
	}
	before := f[0].Calls("web3_clientVersion")
	for range 100 {
		post(t, url, clientVersion)
	}
	if after := f[0].Calls("web3_clientVersion"); after != before {
		t.Fatalf("the removed node got %d more calls", after-before)
	}

	step("weights and strategy", head+mainnet("    strategy: round_robin\n",
		nodeYAML("local_nodes", "        weight: 4\n", f[1]), nodeYAML("", "", f[2])[len("    :\n"):]))
	b1, b2 := f[1].Calls("web3_clientVersion"), f[2].Calls("web3_clientVersion")
	for range 200 {
		post(t, url, clientVersion)
	}
	d1, d2 := f[1].Calls("web3_clientVersion")-b1, f[2].Calls("web3_clientVersion")-b2
	if share := float64(d1) / float64(d1+d2); share < 0.65 || share > 0.95 {
		t.Fatalf("weight 4 against 1 under round_robin: %d and %d calls (share %.2f, want about 0.8)", d1, d2, share)
	}

	step("add a network", head+mainnet("", nodeYAML("local_nodes", "", f[1], f[2]))+base)
	if r := post(t, g.RPCURL()+"/base", clientVersion); r.status != 200 || !strings.Contains(r.body, "fake3") {
		t.Fatalf("the added network answered %d %s", r.status, r.body)
	}

	step("scheduler and limits", "scheduler:\n  max_queued_low: 500\n  low_share: 5\nmax_concurrency: 8\n"+head+
		mainnet("", nodeYAML("local_nodes", "", f[1], f[2]))+base)
	if got := scrapeLine(t, g.MetricsURL(), `evmgate_queue_capacity{class="low",network="mainnet"}`); got != "500" {
		t.Fatalf("low queue capacity after the reload: %q, want 500", got)
	}

	step("remove a network", head+mainnet("", nodeYAML("local_nodes", "", f[1], f[2])))
	if r := post(t, g.RPCURL()+"/base", clientVersion); r.status != 404 {
		t.Fatalf("the removed network answered %d %s", r.status, r.body)
	}

	step("probe settings", head+mainnet("    down_after: 5\n    max_block_age: 1h\n", nodeYAML("local_nodes", "", f[1], f[2])))
	step("a node back as fallback", head+mainnet("", nodeYAML("local_nodes", "", f[1], f[2]), nodeYAML("fallback_nodes", "", f[0])))
	step("headers change a node", head+mainnet("", nodeYAML("local_nodes", "        headers: {X-Team: a}\n", f[1]),
		nodeYAML("", "", f[2])[len("    :\n"):], nodeYAML("fallback_nodes", "", f[0])))
	step("back to the start", head+mainnet("", nodeYAML("local_nodes", "", f[0], f[1])))
	waitFor(t, "fake0 to serve again", func() bool { return servedBy(t, url, f[0]) })

	l.end()
	l.stop = make(chan struct{}) // the deferred end finds nothing left to stop
	if n := l.failed.Load(); n > 0 {
		t.Fatalf("%d of %d calls failed across %d reloads; first: %s", n, l.calls.Load(), len(took), l.firstFailure)
	}
	if code, body := getURL(t, g.MetricsURL()+"/ready"); code != 200 {
		t.Fatalf("/ready after the reloads: %d %s", code, body)
	}
	t.Logf("%d calls, 0 failed, across %d reloads (slowest %v)", l.calls.Load(), len(took), slowest(took))
}

func slowest(ds []time.Duration) time.Duration {
	var m time.Duration
	for _, d := range ds {
		m = max(m, d)
	}
	return m
}

func getURL(t *testing.T, url string) (int, string) {
	t.Helper()
	r, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	return r.StatusCode, readAll(r)
}

// TestReloadKeepsQueuedCalls: calls waiting for a worker when a reload
// replaces their node (its weight changed) are all answered.
func TestReloadKeepsQueuedCalls(t *testing.T) {
	f := fakes(t, 1)
	yaml := func(weight int) string {
		return netYAML("    rpc_timeout: 10s\n", nodeYAML("local_nodes", fmt.Sprintf("        weight: %d\n        max_concurrency: 1\n", weight), f[0]))
	}
	g := startGateway(t, yaml(1))
	f[0].Hold("web3_clientVersion")
	results := make(chan reply, 5)
	for range 5 {
		go func() { results <- post(t, g.RPCURL()+"/mainnet", clientVersion) }()
	}
	waitFor(t, "four calls queued", func() bool {
		return scrapeLine(t, g.MetricsURL(), `evmgate_queue_depth{class="low",network="mainnet"}`) == "4"
	})
	reloadTo(t, g, yaml(2))
	f[0].Release("web3_clientVersion")
	for range 5 {
		if r := <-results; r.status != 200 || !strings.Contains(r.body, "fake0") {
			t.Fatalf("a call queued across the reload: %d %s", r.status, r.body)
		}
	}
}

// TestReloadRemovedNetworkFinishesCalls: a call in flight on a network the
// reload removes is answered; a new one gets 404.
func TestReloadRemovedNetworkFinishesCalls(t *testing.T) {
	f := fakes(t, 2)
	both := netYAML("", nodesYAML("local_nodes", f[0])) +
		"  - name: base\n    local_poll_interval: 50ms\n    rpc_timeout: 10s\n" + nodesYAML("local_nodes", f[1])
	g := startGateway(t, both)
	f[1].Hold("web3_clientVersion")
	f[1].Record("web3_clientVersion")
	got := make(chan reply, 1)
	go func() { got <- post(t, g.RPCURL()+"/base", clientVersion) }()
	waitFor(t, "the call to reach the node", func() bool { return len(f[1].Arrivals("web3_clientVersion")) > 0 })
	reloadTo(t, g, netYAML("", nodesYAML("local_nodes", f[0])))
	if r := post(t, g.RPCURL()+"/base", clientVersion); r.status != 404 {
		t.Fatalf("a new call to the removed network: %d %s", r.status, r.body)
	}
	f[1].Release("web3_clientVersion")
	if r := <-got; r.status != 200 || !strings.Contains(r.body, "fake1") {
		t.Fatalf("the call in flight on the removed network: %d %s", r.status, r.body)
	}
}
