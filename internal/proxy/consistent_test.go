package proxy_test

import (
	"encoding/json"
	"github.com/evmgate/evmgate/internal/access"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/evmgate/evmgate/internal/balancer"
	"github.com/evmgate/evmgate/internal/consistent"
	"github.com/evmgate/evmgate/internal/fakenode"
	"github.com/evmgate/evmgate/internal/metrics"
	"github.com/evmgate/evmgate/internal/proxy"
	"github.com/evmgate/evmgate/internal/upstream"
	"github.com/prometheus/client_golang/prometheus"
)

// consistentNet serves network "c" over fake nodes at the given heads
// (the nodes' known heads too), round robin, consistent reads on.
func consistentNet(t *testing.T, heads ...uint64) (*proxy.Handler, []*fakenode.Node) {
	t.Helper()
	var fakes []*fakenode.Node
	var ups []*upstream.Node
	for i, h := range heads {
		f, err := fakenode.Start(fakenode.Options{Name: string(rune('a' + i)), ChainID: 1, Head: h})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(f.Close)
		n := upstream.New(upstream.Spec{Name: f.Name, Network: "c", URL: f.URL(), Timeout: 5 * time.Second})
		n.SetChainID(1)
		n.SetState(upstream.Up)
		n.ObserveHead(h, time.Now().Unix(), time.Millisecond)
		t.Cleanup(n.Close)
		fakes, ups = append(fakes, f), append(ups, n)
	}
	tr, err := consistent.New(consistent.Settings{})
	if err != nil {
		t.Fatal(err)
	}
	m, err := metrics.New(prometheus.NewRegistry(), func() []metrics.Network { return nil })
	if err != nil {
		t.Fatal(err)
	}
	net := &proxy.Network{Name: "c", Pool: balancer.NewPool(balancer.Rules{NetworkBlockDiff: 5, Strategy: &balancer.RoundRobin{}}, ups),
		Health: observer{}, Retries: 2, TryTimeout: 5 * time.Second, Consistent: tr}
	opts := proxy.Options{MaxBodyBytes: 1 << 20, MaxBatchSize: 100, RequestTimeout: 10 * time.Second}
	return proxy.New(opts, []*proxy.Network{net}, slog.New(slog.DiscardHandler), m), fakes
}

func serveAs(h http.Handler, id, body string) string {
	req := httptest.NewRequest(http.MethodPost, "http://127.0.0.1/c", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	if id != "" {
		req.Header.Set(proxy.ClientHeader, id)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req)
	return w.Body.String()
}

func TestConsistentHeadInBatches(t *testing.T) {
	h, _ := consistentNet(t, 100, 97)
	bn := `{"jsonrpc":"2.0","id":1,"method":"eth_blockNumber","params":[]}`
	seen := map[string]bool{}
	for range 6 {
		seen[serveAs(h, "", bn)] = true
	}
	if len(seen) < 2 {
		t.Fatalf("anonymous answers %v: the test needs both nodes serving", seen)
	}
	serveAs(h, "x", bn) // whichever node: the next calls are at least there
	batch := `[{"jsonrpc":"2.0","id":1,"method":"eth_chainId","params":[]},` +
		`{"jsonrpc":"2.0","id":2,"method":"eth_blockNumber","params":[]}]`
	for i := range 20 {
		out := serveAs(h, "x", batch)
		var els []struct {
			Result string `json:"result"`
		}
		if err := json.Unmarshal([]byte(out), &els); err != nil || len(els) != 2 {
			t.Fatalf("batch answer %s: %v", out, err)
		}
		if i > 0 && els[1].Result != "0x64" {
			t.Fatalf("batch %d: head %s, want 0x64 (100)", i, els[1].Result)
		}
		if single := serveAs(h, "x", bn); !strings.Contains(single, `"0x64"`) {
			t.Fatalf("call %d after a batch at 100: %s", i, single)
		}
	}
}

func TestClientIDTooLong(t *testing.T) {
	h, _ := consistentNet(t, 100)
	out := serveAs(h, strings.Repeat("k", consistent.MaxIDLength+1), `{"jsonrpc":"2.0","id":5,"method":"eth_blockNumber","params":[]}`)
	if !strings.Contains(out, "-32600") || !strings.Contains(out, "X-Client-ID is longer than 128 bytes") {
		t.Fatalf("a client id over the limit: %s", out)
	}
}

// TestRefusedClientIDCostsNoLimit: a request refused for its X-Client-ID
// is answered before the rate limits are charged.
func TestRefusedClientIDCostsNoLimit(t *testing.T) {
	h, _ := consistentNet(t, 100)
	cfg := access.Config{PerIP: access.Limit{Rate: 0.001, Burst: 1}}
	cfg.Default()
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	a, err := access.New(cfg, access.Options{}, slog.New(slog.DiscardHandler), nil)
	if err != nil {
		t.Fatal(err)
	}
	h.SetAccess(a)
	bn := `{"jsonrpc":"2.0","id":1,"method":"eth_blockNumber","params":[]}`
	if got := serveAs(h, strings.Repeat("x", 129), bn); !strings.Contains(got, `"code":-32600`) {
		t.Fatalf("a client id over 128 bytes: %s", got)
	}
	if got := serveAs(h, "ok", bn); !strings.Contains(got, `"result"`) {
		t.Fatalf("the next call, within the limit's burst of 1: %s", got)
	}
}

// An eth_getLogs whose range ends at the head ("latest", "pending" or
// omitted) reads the head too: once a named client was served head 100, its
// log queries to the head never go to the node at 97, which would leave
// out the logs of blocks 98 to 100.
func TestConsistentLogsToTheHead(t *testing.T) {
	h, fakes := consistentNet(t, 100, 97)
	bn := `{"jsonrpc":"2.0","id":1,"method":"eth_blockNumber","params":[]}`
	for i := 0; !strings.Contains(serveAs(h, "z", bn), `"0x64"`); i++ {
		if i == 4 {
			t.Fatal("round robin never served head 100")
		}
	}
	before := fakes[1].Calls("eth_getLogs")
	for _, filter := range []string{`{"fromBlock":"0x5a","toBlock":"latest"}`, `{"fromBlock":"0x5a"}`, `{"toBlock":"pending"}`} {
		for range 4 {
			serveAs(h, "z", `{"jsonrpc":"2.0","id":2,"method":"eth_getLogs","params":[`+filter+`]}`)
		}
	}
	if got := fakes[1].Calls("eth_getLogs") - before; got != 0 {
		t.Fatalf("the node at 97 served %d of the client's log queries to the head after it saw 100", got)
	}
	if fakes[0].Calls("eth_getLogs") != 12 {
		t.Fatalf("the node at 100 served %d of 12 log queries", fakes[0].Calls("eth_getLogs"))
	}
}
