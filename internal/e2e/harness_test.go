package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/ethclient"
	"github.com/ethereum/go-ethereum/rpc"
	"github.com/evmgate/evmgate/internal/devnet"
	"github.com/evmgate/evmgate/internal/gateway"
)

// networkName is the gateway network every test serves the devnet under.
const networkName = "devnet"

// startNet starts a devnet and closes it when the test ends.
func startNet(t testing.TB, cfg devnet.Config) *devnet.Net {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	n, err := devnet.Start(ctx, cfg)
	if err != nil {
		t.Fatalf("starting devnet: %v", err)
	}
	t.Cleanup(func() {
		if err := n.Close(); err != nil {
			t.Errorf("closing devnet: %v", err)
		}
	})
	return n
}

// mineIndexed mines one block and waits until every node's transaction
// index is ready: until then geth answers receipt and transaction lookups of
// unknown hashes with "transaction indexing is in progress" instead of null,
// and the devnet's WaitMined gives up on that error.
func mineIndexed(t testing.TB, n *devnet.Net) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := n.Mine(ctx); err != nil {
		t.Fatalf("mining: %v", err)
	}
	for _, nd := range n.Nodes() {
		c, err := rpc.DialContext(ctx, nd.HTTPURL())
		if err != nil {
			t.Fatalf("dialing %s: %v", nd.Name(), err)
		}
		waitUntil(t, 10*time.Second, nd.Name()+" transaction index", func() bool {
			var raw json.RawMessage
			err := c.CallContext(ctx, &raw, "eth_getTransactionReceipt", common.Hash{})
			return err == nil && string(raw) == "null"
		})
		c.Close()
	}
}

// nodeURLs returns the plain JSON-RPC URLs of the net's nodes.
func nodeURLs(n *devnet.Net) []string {
	var out []string
	for _, nd := range n.Nodes() {
		out = append(out, nd.HTTPURL())
	}
	return out
}

// gwOptions are the network settings of a test gateway.
type gwOptions struct {
	Poll       time.Duration // local_poll_interval
	BlockDiff  int           // network_block_diff
	RPCTimeout time.Duration // rpc_timeout, the per-try timeout
	Retries    int           // rpc_retries
	DownAfter  int           // down_after
	Strategy   string        // "" keeps the default (p2c)
}

func (o gwOptions) withDefaults() gwOptions {
	if o.Poll == 0 {
		o.Poll = 100 * time.Millisecond
	}
	if o.BlockDiff == 0 {
		o.BlockDiff = 2
	}
	if o.RPCTimeout == 0 {
		o.RPCTimeout = 2 * time.Second
	}
	if o.Retries == 0 {
		o.Retries = 2
	}
	if o.DownAfter == 0 {
		o.DownAfter = 3
	}
	return o
}

// gatewayYAML renders a configuration with one network of local nodes named
// node0, node1, ... at urls.
func gatewayYAML(urls []string, o gwOptions) string {
	o = o.withDefaults()
	var b strings.Builder
	b.WriteString("log_level: WARN\nlog_requests: false\n")
	if o.Strategy != "" {
		fmt.Fprintf(&b, "strategy: %s\n", o.Strategy)
	}
	fmt.Fprintf(&b, "networks:\n  - name: %s\n    chain_id: 1337\n", networkName)
	fmt.Fprintf(&b, "    local_poll_interval: %s\n    network_block_diff: %d\n", o.Poll, o.BlockDiff)
	fmt.Fprintf(&b, "    rpc_timeout: %s\n    rpc_retries: %d\n    down_after: %d\n", o.RPCTimeout, o.Retries, o.DownAfter)
	b.WriteString("    local_nodes:\n")
	for i, u := range urls {
		fmt.Fprintf(&b, "      - name: node%d\n        rpc_endpoint: %q\n", i, u)
	}
	return b.String()
}

// startGateway runs evmgate on 127.0.0.1 in front of urls and closes it when
// the test ends.
func startGateway(t testing.TB, urls []string, o gwOptions) *gateway.Gateway {
	t.Helper()
	log := slog.New(slog.DiscardHandler)
	if testing.Verbose() {
		log = slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn}))
	}
	return startGatewayLogged(t, gatewayYAML(urls, o), log)
}

type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

// gatewayURL is the JSON-RPC URL of the test network.
func gatewayURL(g *gateway.Gateway) string { return g.RPCURL() + "/" + networkName }

// newHTTPClient returns a client that keeps enough idle connections for the
// tests' concurrency, so load does not churn through ephemeral ports.
func newHTTPClient() *http.Client {
	return &http.Client{Transport: &http.Transport{
		DialContext:         (&net.Dialer{Timeout: 5 * time.Second}).DialContext,
		MaxIdleConnsPerHost: 128,
		IdleConnTimeout:     30 * time.Second,
	}}
}

// dialRPC connects go-ethereum's rpc client to url over HTTP.
func dialRPC(t testing.TB, url string) *rpc.Client {
	t.Helper()
	hc := newHTTPClient()
	c, err := rpc.DialOptions(context.Background(), url, rpc.WithHTTPClient(hc))
	if err != nil {
		t.Fatalf("dialing %s: %v", url, err)
	}
	t.Cleanup(func() {
		c.Close()
		hc.CloseIdleConnections()
	})
	return c
}

// dialEth wraps an rpc client in go-ethereum's ethclient.
func dialEth(t testing.TB, url string) (*ethclient.Client, *rpc.Client) {
	t.Helper()
	c := dialRPC(t, url)
	return ethclient.NewClient(c), c
}

// waitUntil polls cond every 10ms until it holds, failing the test after
// timeout. It returns how long it waited.
func waitUntil(t testing.TB, timeout time.Duration, what string, cond func() bool) time.Duration {
	t.Helper()
	start := time.Now()
	for !cond() {
		if time.Since(start) > timeout {
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
	return time.Since(start)
}

// nodeStatus returns the gateway's view of one node of the test network.
func nodeStatus(g *gateway.Gateway, name string) (gateway.NodeStatus, bool) {
	for _, n := range g.Status().Networks {
		if n.Name != networkName {
			continue
		}
		for _, nd := range n.Nodes {
			if nd.Name == name {
				return nd, true
			}
		}
	}
	return gateway.NodeStatus{}, false
}

// networkHead returns the gateway's network head.
func networkHead(g *gateway.Gateway) uint64 {
	for _, n := range g.Status().Networks {
		if n.Name == networkName {
			return n.Head
		}
	}
	return 0
}

// eligible reports whether the gateway serves calls from the named node.
func eligible(g *gateway.Gateway, name string) bool {
	st, ok := nodeStatus(g, name)
	return ok && st.Eligible
}

// waitInSync waits until the gateway's head is head and every listed node
// is eligible.
func waitInSync(t testing.TB, g *gateway.Gateway, head uint64, names ...string) {
	t.Helper()
	defer func() {
		if t.Failed() {
			t.Logf("gateway status: %+v", g.Status())
		}
	}()
	waitUntil(t, 15*time.Second, fmt.Sprintf("gateway head %d with %v eligible", head, names), func() bool {
		if networkHead(g) != head {
			return false
		}
		for _, n := range names {
			if !eligible(g, n) {
				return false
			}
		}
		return true
	})
}

// servedCalls reads evmgate_node_requests_total{outcome="ok"} per node of the
// test network from the gateway's registry: the calls each node answered.
func servedCalls(t testing.TB, g *gateway.Gateway) map[string]float64 {
	t.Helper()
	fams, err := g.Registry().Gather()
	if err != nil {
		t.Fatalf("gathering metrics: %v", err)
	}
	out := map[string]float64{}
	for _, f := range fams {
		if f.GetName() != "evmgate_node_requests_total" {
			continue
		}
		for _, m := range f.GetMetric() {
			labels := map[string]string{}
			for _, l := range m.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			if labels["network"] == networkName && labels["outcome"] == "ok" {
				out[labels["rpc_endpoint"]] += m.GetCounter().GetValue()
			}
		}
	}
	return out
}

// delta returns after - before per node.
func delta(before, after map[string]float64) map[string]float64 {
	out := map[string]float64{}
	for k, v := range after {
		out[k] = v - before[k]
	}
	return out
}

// postRaw sends body to url and returns the status and the whole answer.
func postRaw(t testing.TB, hc *http.Client, url, body string) (int, []byte) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
	if err != nil {
		t.Fatalf("building request: %v", err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatalf("POST %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("reading answer of %s: %v", url, err)
	}
	return resp.StatusCode, b
}
