package monitoring

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/evmgate/evmgate/internal/certfile/certtest"
	"github.com/evmgate/evmgate/internal/config"
	"github.com/evmgate/evmgate/internal/devnet"
	"github.com/evmgate/evmgate/internal/fakenode"
	"github.com/evmgate/evmgate/internal/gateway"
	"github.com/prometheus/client_golang/prometheus"
)

// family is a metric family of a running gateway: its type when the scrape
// showed it, and the labels its descriptor declares.
type family struct {
	typ    string // "" when registered but not in the scrape (no sample yet)
	labels []string
}

// Every metric name and matcher label the dashboard and the rules use is
// exported by a running gateway with WebSocket subscriptions, the Engine API
// multiplexer, a hedged network with a slow node, a circuit breaker that
// opens, an admin listener on TLS and a dead node, after a little traffic;
// and README.md lists every metric the gateway registers.
func TestMetricsOfARunningGateway(t *testing.T) {
	families := runningGatewayFamilies(t)
	t.Run("used names are exported", func(t *testing.T) {
		recorded := map[string]bool{}
		for _, r := range readRules(t) {
			recorded[r.Record] = r.Record != ""
		}
		for _, q := range usedQueries(t) {
			sels, err := selectors(q.expr)
			if err != nil {
				t.Errorf("%s: %v", q.where, err)
			}
			for _, s := range sels {
				checkSelector(t, families, recorded, q.where, s)
			}
		}
	})
	t.Run("README lists every metric", func(t *testing.T) {
		readme, err := os.ReadFile("../../README.md")
		if err != nil {
			t.Fatal(err)
		}
		for name := range families {
			if strings.HasPrefix(name, "evmgate_") || strings.HasPrefix(name, "loadbalancer_") {
				if !strings.Contains(string(readme), "`"+name+"`") {
					t.Errorf("README.md does not list %s", name)
				}
			}
		}
	})
}

// usedQueries are the dashboard's queries and the rules' expressions.
func usedQueries(t *testing.T) []query {
	out := dashboardQueries(t)
	for _, r := range readRules(t) {
		out = append(out, query{"rule " + r.Record + r.Alert, r.Expr})
	}
	return out
}

var histogramSuffix = regexp.MustCompile(`_(bucket|sum|count)$`)

func checkSelector(t *testing.T, families map[string]family, recorded map[string]bool, where string, s selector) {
	t.Helper()
	if recorded[s.name] {
		return
	}
	if strings.Contains(s.name, ":") {
		t.Errorf("%s: %s is not recorded by any rule in %s", where, s.name, rulesPath)
		return
	}
	f, ok := families[s.name]
	labels := f.labels
	if !ok {
		base := histogramSuffix.ReplaceAllString(s.name, "")
		if f, ok = families[base]; !ok || (f.typ != "" && f.typ != "histogram") {
			t.Errorf("%s: %s is not exported by the gateway", where, s.name)
			return
		}
		labels = f.labels
		if strings.HasSuffix(s.name, "_bucket") {
			labels = append(slices.Clone(labels), "le")
		}
	}
	if f.typ == "" {
		t.Logf("%s: %s is registered but had no sample in this run", where, s.name)
	}
	for _, l := range s.labels {
		if !slices.Contains(labels, l) && l != "job" && l != "instance" {
			t.Errorf("%s: %s has no label %q (it has %v)", where, s.name, l, labels)
		}
	}
}

// runningGatewayFamilies runs a devnet of three nodes (one stopped), a
// gateway in front of it with the Engine API multiplexer and the admin API
// served over TLS, plus a hedged network of a slow and a fast fake node and
// a network whose only node fails; sends traffic through HTTP, WebSocket
// and the Engine API, hedges and opens the breaker, and returns what the gateway
// exports: the families of its /metrics scrape, plus every registered
// descriptor (labelled metrics appear in a scrape only once used).
func runningGatewayFamilies(t *testing.T) map[string]family {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	n, err := devnet.Start(ctx, devnet.Config{Nodes: 3})
	if err != nil {
		t.Fatalf("starting devnet: %v", err)
	}
	t.Cleanup(func() { n.Close() })
	if _, err := n.Mine(ctx); err != nil {
		t.Fatalf("mining: %v", err)
	}
	if err := n.Nodes()[2].Stop(); err != nil { // a dead node: refused dials
		t.Fatal(err)
	}
	secret := make([]byte, 32)
	rand.Read(secret)
	secretPath := filepath.Join(t.TempDir(), "jwt.hex")
	if err := os.WriteFile(secretPath, []byte(hex.EncodeToString(secret)), 0o600); err != nil {
		t.Fatal(err)
	}
	certFile, keyFile := certtest.NewCA(t, "monitoring test ca").Server(t, "admin").Write(t, t.TempDir(), "admin")
	failing, failingYAML := failingNetworkYAML(t)
	g := startGateway(t, ctx, gatewayYAML(n, secretPath, hedgedNetworkYAML(t)+failingYAML)+
		fmt.Sprintf("admin:\n  listen: 127.0.0.1:0\n  token: %s\n  tls: {cert_file: %q, key_file: %q}\n",
			hex.EncodeToString(secret[:16]), certFile, keyFile))

	httpTraffic(t, g.RPCURL()+"/devnet")
	wsTraffic(t, ctx, n, strings.Replace(g.RPCURL(), "http://", "ws://", 1)+"/devnet")
	engineTraffic(t, ctx, n, g.EngineURL(), secret)
	hedgeTraffic(t, g.RPCURL()+"/hedged", g.MetricsURL())
	breakerTraffic(t, g.RPCURL()+"/failing", g.MetricsURL(), failing)
	waitScrape(t, g.MetricsURL(), "evmgate_ws_disconnects_total{")

	families := scrapeFamilies(t, g.MetricsURL())
	for name, labels := range describedFamilies(g.Registry()) {
		f := families[name]
		f.labels = labels
		families[name] = f
	}
	return families
}

func gatewayYAML(n *devnet.Net, engineSecret, moreNetworks string) string {
	var b strings.Builder
	b.WriteString("log_level: WARN\nlog_requests: false\nnetworks:\n  - name: devnet\n    chain_id: 1337\n")
	b.WriteString("    local_poll_interval: 100ms\n    rpc_timeout: 2s\n    down_after: 1\n    local_nodes:\n")
	nodes := n.Nodes()
	for _, nd := range nodes[:2] {
		fmt.Fprintf(&b, "      - name: %s\n        rpc_endpoint: %q\n        ws_endpoint: %q\n", nd.Name(), nd.HTTPURL(), nd.WSURL())
	}
	fmt.Fprintf(&b, "    fallback_nodes:\n      - name: %s\n        rpc_endpoint: %q\n", nodes[2].Name(), nodes[2].HTTPURL())
	b.WriteString(moreNetworks)
	fmt.Fprintf(&b, "engine:\n  enabled: true\n  jwt_secret: %s\n  nodes:\n", engineSecret)
	for _, nd := range nodes {
		fmt.Fprintf(&b, "    - url: %q\n      jwt_secret: %s\n", nd.AuthURL(), nd.JWTSecretPath())
	}
	return b.String()
}

func startGateway(t *testing.T, ctx context.Context, yaml string) *gateway.Gateway {
	t.Helper()
	cfg, err := config.Parse([]byte(yaml), func(string) (string, bool) { return "", false })
	if err != nil {
		t.Fatalf("gateway config: %v\n%s", err, yaml)
	}
	g, err := gateway.StartLocal(ctx, cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatalf("starting gateway: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		if err := g.Close(ctx); err != nil {
			t.Errorf("closing gateway: %v", err)
		}
	})
	return g
}

// hedgedNetworkYAML is a network of two fake nodes, one slow, taken in
// turn, with hedging after at most 30ms: every call that goes to the slow
// node first gets a copy on the fast one. A devnet node cannot be made slow.
func hedgedNetworkYAML(t *testing.T) string {
	t.Helper()
	var b strings.Builder
	b.WriteString("  - name: hedged\n    chain_id: 1\n    local_poll_interval: 100ms\n    rpc_timeout: 3s\n")
	b.WriteString("    strategy: round_robin\n    cache: false\n    hedge: {enabled: true, min_delay: 5ms, max_delay: 30ms}\n    local_nodes:\n")
	for i, delay := range []time.Duration{300 * time.Millisecond, 0} {
		f, err := fakenode.Start(fakenode.Options{Name: fmt.Sprintf("fake%d", i), ChainID: 1, Head: 100})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(f.Close)
		f.SetDelay(delay)
		fmt.Fprintf(&b, "      - name: %s\n        rpc_endpoint: %q\n", f.Name, f.URL())
	}
	return b.String()
}

// failingNetworkYAML is a network of one fake node whose breaker opens
// after three failed calls.
func failingNetworkYAML(t *testing.T) (*fakenode.Node, string) {
	t.Helper()
	f, err := fakenode.Start(fakenode.Options{Name: "fake2", ChainID: 1, Head: 100})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(f.Close)
	return f, fmt.Sprintf("  - name: failing\n    chain_id: 1\n    local_poll_interval: 100ms\n    rpc_timeout: 3s\n    cache: false\n"+
		"    rpc_retries: 2\n    circuit_breaker: {failures: 3, failure_ratio: 0.5, window: 10s, cooldown: 10m}\n"+
		"    local_nodes:\n      - name: %s\n        rpc_endpoint: %q\n", f.Name, f.URL())
}

// breakerTraffic calls the failing network until its node answers, stops
// the node, and calls on until the breaker's transition is counted: the
// only node of a network is still tried when down, up to three times a call.
func breakerTraffic(t *testing.T, url, metricsURL string, f *fakenode.Node) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for postStatus(t, url) != http.StatusOK {
		if time.Now().After(deadline) {
			t.Fatal("the failing network's node did not answer within 30s")
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err := f.SetMode(fakenode.Refuse); err != nil {
		t.Fatal(err)
	}
	for !strings.Contains(scrape(t, metricsURL), "\nevmgate_breaker_transitions_total{") {
		if time.Now().After(deadline) {
			t.Fatal("no evmgate_breaker_transitions_total sample after 30s of calls to a refusing node")
		}
		postStatus(t, url)
	}
}

func postStatus(t *testing.T, url string) int {
	t.Helper()
	resp, err := http.Post(url, "application/json", strings.NewReader(`{"jsonrpc":"2.0","id":1,"method":"eth_blockNumber","params":[]}`))
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}

// hedgeTraffic calls the hedged network until a hedge is counted; in turn
// the slow node gets every other call, so it takes a few calls.
func hedgeTraffic(t *testing.T, url, metricsURL string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !strings.Contains(scrape(t, metricsURL), "\nevmgate_hedges_total{") {
		if time.Now().After(deadline) {
			t.Fatal("no evmgate_hedges_total sample after 30s of calls to the hedged network")
		}
		postStatus(t, url)
	}
}

// httpTraffic sends calls of every status a client can cause: answered,
// the node's own error, a batch, and each priority class.
func httpTraffic(t *testing.T, url string) {
	t.Helper()
	calls := []struct{ body, header string }{
		{`{"jsonrpc":"2.0","id":1,"method":"eth_blockNumber","params":[]}`, ""},
		{`{"jsonrpc":"2.0","id":2,"method":"eth_chainId","params":[]}`, "X-Fast-Track"},
		{`{"jsonrpc":"2.0","id":3,"method":"eth_getBlockByNumber","params":["latest",false]}`, "X-High-Priority"},
		{`{"jsonrpc":"2.0","id":4,"method":"no_suchMethod","params":[]}`, ""},
		{`[{"jsonrpc":"2.0","id":5,"method":"eth_blockNumber","params":[]},{"jsonrpc":"2.0","id":6,"method":"net_version","params":[]}]`, ""},
	}
	for _, c := range calls {
		req, _ := http.NewRequest(http.MethodPost, url, strings.NewReader(c.body))
		req.Header.Set("Content-Type", "application/json")
		if c.header != "" {
			req.Header.Set(c.header, "true")
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatalf("POST %s: %v", c.body, err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("POST %s: HTTP %d", c.body, resp.StatusCode)
		}
	}
}

// wsTraffic subscribes to newHeads, mines until a header arrives, and
// closes the connection.
func wsTraffic(t *testing.T, ctx context.Context, n *devnet.Net, url string) {
	t.Helper()
	c, _, err := websocket.Dial(ctx, url, nil)
	if err != nil {
		t.Fatalf("dialing %s: %v", url, err)
	}
	defer c.CloseNow()
	msgs := make(chan string, 16)
	go func() {
		defer close(msgs)
		for {
			_, b, err := c.Read(context.Background())
			if err != nil {
				return
			}
			msgs <- string(b)
		}
	}()
	if err := c.Write(ctx, websocket.MessageText, []byte(`{"jsonrpc":"2.0","id":1,"method":"eth_subscribe","params":["newHeads"]}`)); err != nil {
		t.Fatal(err)
	}
	if m := <-msgs; !strings.Contains(m, `"result":"0x`) {
		t.Fatalf("eth_subscribe answered %s", m)
	}
	// A header mined before the node's subscription is in place is filled in
	// by the gateway; mining more than one only bounds the wait.
	wait := time.NewTimer(0)
	defer wait.Stop()
	for i := 0; ; i++ {
		if _, err := n.Mine(ctx); err != nil {
			t.Fatalf("mining: %v", err)
		}
		wait.Reset(5 * time.Second)
		select {
		case m, ok := <-msgs:
			if !ok || !strings.Contains(m, `"eth_subscription"`) {
				t.Fatalf("want a newHeads notification, got %q", m)
			}
			c.Close(websocket.StatusNormalClosure, "")
			return
		case <-wait.C:
			if i == 5 {
				t.Fatal("no newHeads notification after mining 6 blocks")
			}
		}
	}
}

// engineTraffic plays the consensus client: forkchoiceUpdated and
// newPayload for the newest block, both answered VALID by the live nodes.
func engineTraffic(t *testing.T, ctx context.Context, n *devnet.Net, url string, secret []byte) {
	t.Helper()
	d := devnet.NewDriver(url, secret)
	defer d.Close()
	head, safe, final := n.Forkchoice()
	if st, _, err := d.ForkchoiceUpdated(ctx, head, safe, final, nil); err != nil || st.Status != devnet.StatusValid {
		t.Fatalf("forkchoiceUpdated through the gateway: %v %v", st, err)
	}
	b, _ := n.Block(n.Head())
	if st, err := d.NewPayloadBlock(ctx, b); err != nil || st.Status != devnet.StatusValid {
		t.Fatalf("newPayload through the gateway: %v %v", st, err)
	}
}

func scrape(t *testing.T, metricsURL string) string {
	t.Helper()
	resp, err := http.Get(metricsURL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// waitScrape waits until a sample line of the scrape starts with prefix.
func waitScrape(t *testing.T, metricsURL, prefix string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !strings.Contains("\n"+scrape(t, metricsURL), "\n"+prefix) {
		if time.Now().After(deadline) {
			t.Fatalf("no %s sample in /metrics after 30s", prefix)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// scrapeFamilies reads the families and their types from the "# TYPE"
// lines of a text-format scrape.
func scrapeFamilies(t *testing.T, metricsURL string) map[string]family {
	t.Helper()
	out := map[string]family{}
	sc := bufio.NewScanner(strings.NewReader(scrape(t, metricsURL)))
	for sc.Scan() {
		if f := strings.Fields(sc.Text()); len(f) == 4 && f[0] == "#" && f[1] == "TYPE" {
			out[f[2]] = family{typ: f[3]}
		}
	}
	return out
}

var descFields = regexp.MustCompile(`fqName: "([^"]+)".*variableLabels: \{([^}]*)\}`)

// describedFamilies returns every registered metric name and its variable
// labels, from the descriptors' String form (the only place a Desc shows
// them).
func describedFamilies(reg *prometheus.Registry) map[string][]string {
	ch := make(chan *prometheus.Desc)
	go func() { reg.Describe(ch); close(ch) }()
	out := map[string][]string{}
	for d := range ch {
		m := descFields.FindStringSubmatch(d.String())
		if m == nil {
			continue
		}
		var labels []string
		for l := range strings.SplitSeq(m[2], ",") {
			if l = strings.TrimSpace(l); l != "" {
				labels = append(labels, l)
			}
		}
		out[m[1]] = labels
	}
	return out
}
