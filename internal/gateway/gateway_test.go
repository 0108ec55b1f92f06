package gateway_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/evmgate/evmgate/internal/config"
	"github.com/evmgate/evmgate/internal/fakenode"
	"github.com/evmgate/evmgate/internal/gateway"
)

// fakes starts n fake nodes on chain 1 at head 100.
func fakes(t *testing.T, n int) []*fakenode.Node { return fakesB(t, n) }

func fakesB(t testing.TB, n int) []*fakenode.Node {
	t.Helper()
	out := make([]*fakenode.Node, n)
	for i := range out {
		f, err := fakenode.Start(fakenode.Options{Name: fmt.Sprintf("fake%d", i), ChainID: 1, Head: 100})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(f.Close)
		out[i] = f
	}
	return out
}

// startGateway runs a gateway from YAML text; %s placeholders are replaced
// by the fakes' URLs.
func startGateway(t *testing.T, yaml string) *gateway.Gateway { return startGatewayB(t, yaml) }

func startGatewayB(t testing.TB, yaml string) *gateway.Gateway {
	t.Helper()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	if tt, ok := t.(*testing.T); ok && testing.Verbose() {
		log = slog.New(slog.NewTextHandler(testWriter{tt}, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return startGatewayLog(t, yaml, log)
}

// startQuietGateway starts a gateway that logs nothing, also under -v: for
// a test that measures time, on which the log would weigh.
func startQuietGateway(t testing.TB, yaml string) *gateway.Gateway {
	t.Helper()
	return startGatewayLog(t, yaml, slog.New(slog.NewTextHandler(io.Discard, nil)))
}

func startGatewayLog(t testing.TB, yaml string, log *slog.Logger) *gateway.Gateway {
	t.Helper()
	cfg, err := config.Parse([]byte(yaml), func(string) (string, bool) { return "", false })
	if err != nil {
		t.Fatalf("config: %v", err)
	}
	g, err := gateway.StartLocal(context.Background(), cfg, log)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		g.Close(ctx)
	})
	return g
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

func nodesYAML(tier string, nodes ...*fakenode.Node) string {
	var b strings.Builder
	b.WriteString("    " + tier + ":\n")
	for _, n := range nodes {
		fmt.Fprintf(&b, "      - rpc_endpoint: %q\n        name: %s\n", n.URL(), n.Name)
	}
	return b.String()
}

func netYAML(extra string, tiers ...string) string {
	if !strings.Contains(extra, "rpc_timeout") {
		extra += "    rpc_timeout: 500ms\n"
	}
	return "log_level: DEBUG\nnetworks:\n  - name: mainnet\n    local_poll_interval: 50ms\n" +
		extra + strings.Join(tiers, "")
}

type reply struct {
	status int
	body   string
	header http.Header
}

func post(t *testing.T, url, body string, hdr ...string) reply {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("POST %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return reply{status: resp.StatusCode, body: string(b), header: resp.Header}
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

const blockNumber = `{"jsonrpc":"2.0","id":7,"method":"eth_blockNumber","params":[]}`

func TestSingleCallPassesThrough(t *testing.T) {
	f := fakes(t, 2)
	g := startGateway(t, netYAML("", nodesYAML("local_nodes", f...)))
	r := post(t, g.RPCURL()+"/mainnet", blockNumber, "X-Request-ID", "abc-1")
	if r.status != 200 || r.body != `{"jsonrpc":"2.0","id":7,"result":"0x64"}` {
		t.Fatalf("got %d %s", r.status, r.body)
	}
	if r.header.Get("X-Request-ID") != "abc-1" {
		t.Fatalf("X-Request-ID not returned: %q", r.header.Get("X-Request-ID"))
	}
	// The only network is also served at /.
	if r := post(t, g.RPCURL()+"/", blockNumber); r.status != 200 {
		t.Fatalf("POST /: %d %s", r.status, r.body)
	}
}

func TestBatchGoesToOneNodeWhole(t *testing.T) {
	f := fakes(t, 2)
	g := startGateway(t, netYAML("", nodesYAML("local_nodes", f...)))
	before := f[0].Requests() + f[1].Requests()
	var calls []string
	for i := 0; i < 10; i++ {
		calls = append(calls, fmt.Sprintf(`{"jsonrpc":"2.0","id":"c%d","method":"eth_chainId","params":[]}`, i))
	}
	r := post(t, g.RPCURL()+"/mainnet", "["+strings.Join(calls, ",")+"]")
	if r.status != 200 || strings.Count(r.body, `"result":"0x1"`) != 10 || !strings.HasPrefix(r.body, `[{"jsonrpc":"2.0","id":"c0"`) {
		t.Fatalf("got %d %s", r.status, r.body)
	}
	// One upstream request, not ten (probes may add a few; they are batches too).
	if got := f[0].Calls("eth_chainId") + f[1].Calls("eth_chainId"); got != 10+2 {
		t.Fatalf("eth_chainId calls upstream = %d, want 12 (10 + one startup check per node)", got)
	}
	_ = before
}

func TestBadInput(t *testing.T) {
	f := fakes(t, 1)
	g := startGateway(t, netYAML("", nodesYAML("local_nodes", f...)))
	url := g.RPCURL() + "/mainnet"
	cases := []struct {
		name, body string
		status     int
		want       string
	}{
		{"malformed", `{"jsonrpc":"2.0",`, 400, `"code":-32700`},
		{"not an object", `42`, 400, `"code":-32600`},
		{"no method", `{"jsonrpc":"2.0","id":1}`, 400, `{"jsonrpc":"2.0","id":1,"error":{"code":-32600`},
		// An invalid call's readable id comes back, as the node would send it.
		{"no version", `{"id":"a","method":"eth_chainId"}`, 400, `{"jsonrpc":"2.0","id":"a","error":{"code":-32600`},
		{"method not a string", `{"jsonrpc":"2.0","id":7,"method":5}`, 400, `"id":7,"error":{"code":-32600`},
		{"params not a list", `{"jsonrpc":"2.0","id":8,"method":"eth_chainId","params":"0x0"}`, 400, `"id":8,"error":{`},
		// A member a node may read otherwise is refused before any node or
		// the cache sees the call.
		{"escaped member name", `{"jsonrpc":"2.0","id":9,"method":"eth_chainId","\u006dethod":"eth_blockNumber"}`, 400,
			`{"jsonrpc":"2.0","id":9,"error":{"code":-32600,"message":"invalid request: member \"\\u006dethod\" may be read differently`},
		{"filter member in other case", `{"jsonrpc":"2.0","id":10,"method":"eth_getLogs","params":[{"FromBlock":"0x0"}]}`, 200,
			`{"jsonrpc":"2.0","id":10,"error":{"code":-32602`},
		{"empty batch", `[]`, 400, `"code":-32600`},
		{"bad element in batch", `[1,` + blockNumber + `]`, 200, `[{"jsonrpc":"2.0","id":null,"error":{"code":-32600`},
		{"unknown method is the node's answer", `{"jsonrpc":"2.0","id":1,"method":"foo_bar","params":[]}`, 200, `"code":-32601`},
		{"method's own error is returned as is", `{"jsonrpc":"2.0","id":1,"method":"eth_call","params":[{},"latest"]}`, 200, `{"jsonrpc":"2.0","id":1,"error":{"code":3,"message":"execution reverted"}}`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := post(t, url, c.body)
			if r.status != c.status || !strings.Contains(r.body, c.want) {
				t.Fatalf("got %d %s; want %d containing %s", r.status, r.body, c.status, c.want)
			}
		})
	}
	t.Run("unknown network", func(t *testing.T) {
		r := post(t, g.RPCURL()+"/nope", blockNumber)
		if r.status != 404 || !strings.Contains(r.body, `"networks":["mainnet"]`) {
			t.Fatalf("got %d %s", r.status, r.body)
		}
	})
	t.Run("GET", func(t *testing.T) {
		resp, err := http.Get(url)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 405 || resp.Header.Get("Allow") != "POST" {
			t.Fatalf("got %d", resp.StatusCode)
		}
	})
	t.Run("too large", func(t *testing.T) {
		big := `{"jsonrpc":"2.0","id":1,"method":"eth_call","params":["` + strings.Repeat("a", 9<<20) + `"]}`
		r := post(t, url, big)
		if r.status != 413 || !strings.Contains(r.body, "max_body_bytes") {
			t.Fatalf("got %d %.200s", r.status, r.body)
		}
	})
}

func TestFailoverFaults(t *testing.T) {
	faults := []struct {
		name  string
		apply func(*fakenode.Node) error
	}{
		{"refused", func(n *fakenode.Node) error { return n.SetMode(fakenode.Refuse) }},
		{"hang", func(n *fakenode.Node) error { return n.SetMode(fakenode.Hang) }},
		{"http 500", func(n *fakenode.Node) error { return n.SetMode(fakenode.Status500) }},
	}
	for _, fault := range faults {
		t.Run(fault.name, func(t *testing.T) {
			f := fakes(t, 2)
			g := startGateway(t, netYAML("    rpc_retries: 2\n", nodesYAML("local_nodes", f...)))
			if err := fault.apply(f[0]); err != nil {
				t.Fatal(err)
			}
			for i := 0; i < 20; i++ {
				r := post(t, g.RPCURL()+"/mainnet", blockNumber)
				if r.status != 200 || !strings.Contains(r.body, `"result":"0x64"`) {
					t.Fatalf("call %d: client saw %d %s", i, r.status, r.body)
				}
			}
			// And when no node is left, the error says why.
			if err := fault.apply(f[1]); err != nil {
				t.Fatal(err)
			}
			r := post(t, g.RPCURL()+"/mainnet", blockNumber)
			if r.status == 200 || !strings.Contains(r.body, `"error"`) || !strings.Contains(r.body, "fake") && !strings.Contains(r.body, "no node") {
				t.Fatalf("with every node failing the client saw %d %s", r.status, r.body)
			}
			t.Logf("error with no node left: %s", r.body)
		})
	}
}

func TestLaggingAndLyingNodes(t *testing.T) {
	f := fakes(t, 3)
	f[1].SetHead(80)      // 20 behind: out with network_block_diff 5
	f[2].SetHead(1 << 40) // lies about a huge head
	g := startGateway(t, netYAML("    network_block_diff: 5\n", nodesYAML("local_nodes", f...)))
	st := g.Status().Networks[0]
	if st.Head != 100 {
		t.Fatalf("network head = %d, want 100: a liar must not raise it", st.Head)
	}
	before := []int64{f[0].Calls("eth_getBalance"), f[1].Calls("eth_getBalance"), f[2].Calls("eth_getBalance")}
	for i := 0; i < 30; i++ {
		r := post(t, g.RPCURL()+"/mainnet", `{"jsonrpc":"2.0","id":1,"method":"eth_getBalance","params":["0x00","latest"]}`)
		if r.status != 200 || !strings.Contains(r.body, "result") {
			t.Fatalf("got %d %s", r.status, r.body)
		}
	}
	if got := f[0].Calls("eth_getBalance") - before[0]; got != 30 {
		t.Fatalf("the good node served %d of 30 calls; lagging %d, liar %d", got,
			f[1].Calls("eth_getBalance")-before[1], f[2].Calls("eth_getBalance")-before[2])
	}
	// The lagging node catches up and gets traffic again.
	f[1].SetHead(100)
	waitFor(t, "lagging node back", func() bool { return g.Status().Networks[0].Healthy == 2 })
}

func TestWrongChainNeverServed(t *testing.T) {
	f := fakes(t, 3)
	f[2].SetChainID(5)
	g := startGateway(t, netYAML("", nodesYAML("local_nodes", f...)))
	for i := 0; i < 30; i++ {
		post(t, g.RPCURL()+"/mainnet", blockNumber)
	}
	if f[2].Calls("eth_blockNumber") != 0 {
		t.Fatalf("the node on chain 5 got %d calls", f[2].Calls("eth_blockNumber"))
	}
	var state string
	for _, n := range g.Status().Networks[0].Nodes {
		if n.Name == "fake2" {
			state = n.State
		}
	}
	if state != "wrong_chain" {
		t.Fatalf("fake2 state = %q, want wrong_chain", state)
	}
	var buf bytes.Buffer
	resp, err := http.Get(g.MetricsURL() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(&buf, resp.Body)
	resp.Body.Close()
	if !strings.Contains(buf.String(), `evmgate_node_state{network="mainnet",rpc_endpoint="fake2",state="wrong_chain",tier="local"} 1`) {
		t.Fatalf("metrics lack the wrong_chain state:\n%s", grep(buf.String(), "evmgate_node_state"))
	}
}

func grep(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

// metricValue reads one sample from /metrics ("" when absent).
func metricValue(t *testing.T, metricsURL, series string) string {
	t.Helper()
	resp, err := http.Get(metricsURL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	for _, l := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(l, series+" ") {
			return strings.TrimPrefix(l, series+" ")
		}
	}
	return ""
}

// Every client request is counted once, bad ones included.
func TestEveryRequestCountedOnce(t *testing.T) {
	f := fakes(t, 1)
	g := startGateway(t, netYAML("", nodesYAML("local_nodes", f...)))
	url := g.RPCURL() + "/mainnet"
	post(t, url, `{"jsonrpc":"2.0",`)                                       // malformed
	post(t, url, blockNumber)                                               // good
	post(t, url, "["+strings.Repeat(blockNumber+",", 1000)+blockNumber+"]") // over max_batch_size
	big := `{"jsonrpc":"2.0","id":1,"method":"eth_call","params":["` + strings.Repeat("a", 9<<20) + `"]}`
	post(t, url, big) // over max_body_bytes
	if got := metricValue(t, g.MetricsURL(), `loadbalancer_requests_total{network="mainnet"}`); got != "4" {
		t.Fatalf("loadbalancer_requests_total = %q after 4 requests", got)
	}
}

// TestTryTimeoutNamesRPCTimeout: a call whose only try ran out of
// rpc_timeout, with request_timeout far off, says rpc_timeout passed, not
// request_timeout.
func TestTryTimeoutNamesRPCTimeout(t *testing.T) {
	f := fakes(t, 1)
	g := startGateway(t, netYAML("    rpc_retries: 0\n    rpc_timeout: 300ms\n    down_after: 1000\n", nodesYAML("local_nodes", f...)))
	f[0].SetDelay(10 * time.Second)
	r := post(t, g.RPCURL()+"/mainnet", `{"jsonrpc":"2.0","id":1,"method":"eth_getBalance","params":["0x1","latest"]}`)
	if r.status != http.StatusServiceUnavailable || !strings.Contains(r.body, "fake0: rpc_timeout passed before it answered") ||
		strings.Contains(r.body, "request_timeout") {
		t.Fatalf("got %d %s", r.status, r.body)
	}
}
