package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/evmgate/evmgate/internal/config"
	"github.com/evmgate/evmgate/internal/devnet"
	"github.com/evmgate/evmgate/internal/gateway"
)

// TestNoRequestTakesANodeOut: one client sends calls with string ids of up
// to 100 KB, huge params, bodies over geth's 5 MiB HTTP limit and odd
// batches (notifications only, duplicate ids, invalid elements, ids that
// look like JSON), while another client sends ordinary calls. Three real
// nodes serve, one of them over its WebSocket (http_over_ws). No node may
// change state or count a failure, the other client sees no error, and
// every answer carries its call's id back byte for byte.
func TestNoRequestTakesANodeOut(t *testing.T) {
	total := 1000
	if raceEnabled {
		total = 250
	}
	net := startNet(t, devnet.Config{Nodes: 3})
	mineIndexed(t, net)
	log := &stateLog{}
	g := startGatewayLogged(t, blameYAML(net), slog.New(log))
	waitInSync(t, g, net.Head(), "node0", "node1", "node2")
	baseline := log.count()
	_, faucet := net.Faucet()

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	stop := make(chan struct{})
	var run loadRun
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); run = runLoad(ctx, dialRPC(t, gatewayURL(g)), 2, faucet.Hex(), stop) }()

	hc := newHTTPClient()
	defer hc.CloseIdleConnections()
	hostile := newHostile(faucet.Hex())
	errs := make(chan error, total)
	var hw sync.WaitGroup
	for w := range 4 {
		hw.Add(1)
		go func() {
			defer hw.Done()
			for i := w; i < total && ctx.Err() == nil; i += 4 {
				req := hostile.request(i)
				if err := req.check(postHostile(ctx, hc, gatewayURL(g), req.body)); err != nil {
					errs <- fmt.Errorf("request %d (%s): %w", i, req.kind, err)
				}
			}
		}()
	}
	hw.Wait()
	close(stop)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}

	id := hundredKBID()
	for range 6 {
		status, body := postRaw(t, hc, gatewayURL(g), `{"jsonrpc":"2.0","id":`+id+`,"method":"eth_getBlockByNumber","params":["latest",false]}`)
		var m map[string]json.RawMessage
		if err := json.Unmarshal(body, &m); status != http.StatusOK || err != nil || string(m["id"]) != id || len(m["result"]) < 100 {
			t.Fatalf("call with a 100 KB id: HTTP %d, id back byte for byte %v, answer %.300s", status, string(m["id"]) == id, body)
		}
	}

	st := summarize(run, time.Time{}, time.Time{})
	t.Logf("hostile client: %d requests; other client: %s", total, st)
	if st.Failures > 0 || st.Calls == 0 {
		t.Errorf("the other client: %s: %v", st, st.Errors)
	}
	if changes := log.since(baseline); len(changes) > 0 {
		t.Errorf("node states changed: %v", changes)
	}
	for _, name := range []string{"node0", "node1", "node2"} {
		if ns, _ := nodeStatus(g, name); ns.State != "up" || ns.Failures != 0 {
			t.Errorf("%s: state %s, %d failures counted", name, ns.State, ns.Failures)
		}
	}
	if blamed := blamedTries(t, g); len(blamed) > 0 {
		t.Errorf("tries counted against nodes (loadbalancer_node_errors_total): %v", blamed)
	}
}

// blameYAML serves the net's nodes, node2 over its WebSocket; the try
// timeout is generous so that a busy machine times nothing out.
func blameYAML(net *devnet.Net) string {
	y := gatewayYAML(nodeURLs(net), gwOptions{Poll: 200 * time.Millisecond, RPCTimeout: 10 * time.Second, Retries: 2, DownAfter: 3})
	nd := net.Nodes()[2]
	at := fmt.Sprintf("rpc_endpoint: %q\n", nd.HTTPURL())
	return strings.Replace(y, at, at+fmt.Sprintf("        ws_endpoint: %q\n        http_over_ws: true\n", nd.WSURL()), 1)
}

// startGatewayLogged is startGateway with the gateway's log going to log.
func startGatewayLogged(t testing.TB, yaml string, log *slog.Logger) *gateway.Gateway {
	t.Helper()
	cfg, err := config.Parse([]byte(yaml), func(string) (string, bool) { return "", false })
	if err != nil {
		t.Fatalf("parsing gateway config: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	g, err := gateway.StartLocal(ctx, cfg, log)
	if err != nil {
		t.Fatalf("starting gateway: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := g.Close(ctx); err != nil {
			t.Errorf("closing gateway: %v", err)
		}
	})
	return g
}

// stateLog keeps the gateway's "node state changed" and "node probe
// failed" log records.
type stateLog struct {
	mu      sync.Mutex // mu protects records
	records []string
}

func (s *stateLog) Enabled(context.Context, slog.Level) bool { return true }
func (s *stateLog) WithAttrs([]slog.Attr) slog.Handler       { return s }
func (s *stateLog) WithGroup(string) slog.Handler            { return s }

func (s *stateLog) Handle(_ context.Context, r slog.Record) error {
	if r.Message != "node state changed" && r.Message != "node probe failed" {
		return nil
	}
	var b strings.Builder
	b.WriteString(r.Message)
	r.Attrs(func(a slog.Attr) bool {
		fmt.Fprintf(&b, " %s=%v", a.Key, a.Value)
		return true
	})
	s.mu.Lock()
	s.records = append(s.records, b.String())
	s.mu.Unlock()
	return nil
}

func (s *stateLog) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.records)
}

func (s *stateLog) since(n int) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.records[n:])
}

// blamedTries returns loadbalancer_node_errors_total per node and kind of
// the tries that count against a node (every proxy_ kind but
// "unavailable", which only moves a call elsewhere).
func blamedTries(t *testing.T, g *gateway.Gateway) map[string]float64 {
	t.Helper()
	fams, err := g.Registry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]float64{}
	for _, f := range fams {
		if f.GetName() != "loadbalancer_node_errors_total" {
			continue
		}
		for _, m := range f.GetMetric() {
			labels := map[string]string{}
			for _, l := range m.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			if kind := labels["type"]; strings.HasPrefix(kind, "proxy_") && kind != "proxy_unavailable" && m.GetCounter().GetValue() > 0 {
				out[labels["rpc_endpoint"]+" "+kind] += m.GetCounter().GetValue()
			}
		}
	}
	return out
}

// postHostile sends body and returns the status and the answer; a failed
// exchange is status 0 with the error in the body.
func postHostile(ctx context.Context, hc *http.Client, url string, body []byte) (int, []byte) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return 0, []byte(err.Error())
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := hc.Do(req)
	if err != nil {
		return 0, []byte(err.Error())
	}
	defer resp.Body.Close()
	var b bytes.Buffer
	if _, err := b.ReadFrom(resp.Body); err != nil {
		return 0, []byte(err.Error())
	}
	return resp.StatusCode, b.Bytes()
}

// hundredKBID is a string id of exactly 100 KB, with the characters Go's
// encoding/json (and so geth) escapes when it echoes an id.
func hundredKBID() string {
	const unit, size = `<a&b>\"x\"{\"id\":1,\"result\":2}\u2028`, 100 << 10
	s := strings.Repeat(unit, (size-2)/len(unit))
	return `"` + s + strings.Repeat("x", size-2-len(s)) + `"`
}
