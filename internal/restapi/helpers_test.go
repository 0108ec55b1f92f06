package restapi_test

import (
	"context"
	"fmt"
	"github.com/evmgate/evmgate/internal/metrics"
	"io"
	"log/slog"
	"math/big"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/evmgate/evmgate/internal/config"
	"github.com/evmgate/evmgate/internal/devnet"
	"github.com/evmgate/evmgate/internal/gateway"
	"github.com/prometheus/client_golang/prometheus"
)

// networkName is the network the tests serve the devnet under.
const networkName = "devnet"

// newNet starts a devnet of n nodes whose block 1 holds two transfers;
// blocks come only when a test mines.
func newNet(nodes int) (*devnet.Net, error) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	n, err := devnet.Start(ctx, devnet.Config{Nodes: nodes})
	if err != nil {
		return nil, fmt.Errorf("starting devnet: %w", err)
	}
	for i := range 2 {
		to := common.BigToAddress(big.NewInt(int64(0xdead + i)))
		if _, err := n.SendTransfer(ctx, to, big.NewInt(1e15)); err != nil {
			n.Close()
			return nil, err
		}
	}
	if _, err := n.Mine(ctx); err != nil {
		n.Close()
		return nil, err
	}
	return n, nil
}

// startNet runs newNet until the test ends.
func startNet(t *testing.T, nodes int) *devnet.Net {
	t.Helper()
	n, err := newNet(nodes)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := n.Close(); err != nil {
			t.Errorf("closing devnet: %v", err)
		}
	})
	return n
}

// gatewayYAML is a configuration serving the net's nodes, with their
// WebSockets, as networkName; extra is appended to the network.
func gatewayYAML(n *devnet.Net, extra string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "log_level: WARN\nlog_requests: false\nnetworks:\n  - name: %s\n    chain_id: 1337\n", networkName)
	b.WriteString("    local_poll_interval: 100ms\n    rpc_timeout: 2s\n    rpc_retries: 2\n" + extra + "    local_nodes:\n")
	for i, nd := range n.Nodes() {
		fmt.Fprintf(&b, "      - name: node%d\n        rpc_endpoint: %q\n        ws_endpoint: %q\n", i, nd.HTTPURL(), nd.WSURL())
	}
	return b.String()
}

// startGateway runs the gateway of yaml on 127.0.0.1 until the test ends.
func startGateway(t *testing.T, yaml string) *gateway.Gateway {
	t.Helper()
	cfg, err := config.Parse([]byte(yaml), func(string) (string, bool) { return "", false })
	if err != nil {
		t.Fatalf("parsing gateway config: %v\n%s", err, yaml)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	g, err := gateway.StartLocal(ctx, cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatalf("starting gateway: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := g.Close(ctx); err != nil {
			t.Errorf("closing gateway: %v", err)
		}
	})
	return g
}

// answer is one HTTP answer.
type answer struct {
	status int
	body   string
}

// send makes one request; body "" sends none.
func send(t *testing.T, method, url, body string, header http.Header) answer {
	t.Helper()
	var r io.Reader
	if body != "" {
		r = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, url, r)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: reading the answer: %v", method, url, err)
	}
	return answer{resp.StatusCode, string(b)}
}

// rpcCall posts a JSON-RPC call straight to a node.
func rpcCall(t *testing.T, url, method, params string) string {
	t.Helper()
	a := send(t, http.MethodPost, url, `{"jsonrpc":"2.0","id":1,"method":"`+method+`","params":`+params+`}`,
		http.Header{"Content-Type": {"application/json"}})
	if a.status != http.StatusOK {
		t.Fatalf("%s on the node: %d %s", method, a.status, a.body)
	}
	return a.body
}

// metric sums the samples of a counter, gauge or histogram count whose
// labels include every pair in labels.
func metric(t *testing.T, reg prometheus.Gatherer, name string, labels ...string) float64 {
	t.Helper()
	match := map[string]string{}
	for i := 0; i+1 < len(labels); i += 2 {
		match[labels[i]] = labels[i+1]
	}
	sum, err := metrics.Sum(reg, name, match)
	if err != nil {
		t.Fatal(err)
	}
	return sum
}
