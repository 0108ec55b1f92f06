package e2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/evmgate/evmgate/internal/config"
	"github.com/evmgate/evmgate/internal/devnet"
	"github.com/evmgate/evmgate/internal/gateway"
)

// conformanceDir holds execution-apis' RPC test fixtures, beside the clone.
const conformanceDir = "../../../shared/conformance"

// ioFixture is one .io file: its requests in order.
type ioFixture struct {
	name     string // path relative to conformanceDir
	requests []string
}

// loadFixtures reads every .io file under dir in lexical path order.
func loadFixtures(t *testing.T, dir string) []ioFixture {
	t.Helper()
	var paths []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.HasSuffix(p, ".io") {
			paths = append(paths, p)
		}
		return err
	})
	if err != nil {
		t.Fatalf("listing fixtures: %v", err)
	}
	slices.Sort(paths)
	var out []ioFixture
	for _, p := range paths {
		raw, err := os.ReadFile(p)
		if err != nil {
			t.Fatalf("reading fixture: %v", err)
		}
		rel, _ := filepath.Rel(dir, p)
		f := ioFixture{name: filepath.ToSlash(rel)}
		sc := bufio.NewScanner(bytes.NewReader(raw))
		sc.Buffer(nil, 64<<20)
		for sc.Scan() {
			if line, ok := strings.CutPrefix(sc.Text(), ">> "); ok {
				f.requests = append(f.requests, line)
			}
		}
		if err := sc.Err(); err != nil {
			t.Fatalf("scanning %s: %v", f.name, err)
		}
		out = append(out, f)
	}
	return out
}

// conformanceFiles returns genesis.json, chain.rlp and headfcu.json, or
// skips (fails under CI) when the fixtures are absent.
func conformanceFiles(t *testing.T) (genesis, chain, fcu []byte) {
	t.Helper()
	if _, err := os.Stat(conformanceDir); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("conformance fixtures missing at %s: %v", conformanceDir, err)
		}
		t.Skipf("conformance fixtures not present at %s", conformanceDir)
	}
	read := func(name string) []byte {
		b, err := os.ReadFile(filepath.Join(conformanceDir, name))
		if err != nil {
			t.Fatalf("reading %s: %v", name, err)
		}
		return b
	}
	return read("genesis.json"), read("chain.rlp"), read("headfcu.json")
}

// startChainNode loads the fixture chain into a node and sends headfcu.json.
func startChainNode(t *testing.T, genesis, chain, fcu []byte) *devnet.ChainNode {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	nd, err := devnet.StartFromChain(ctx, genesis, chain, nil)
	if err != nil {
		t.Fatalf("starting chain node: %v", err)
	}
	t.Cleanup(func() {
		if err := nd.Close(); err != nil {
			t.Errorf("closing chain node: %v", err)
		}
	})
	var req struct {
		Method string            `json:"method"`
		Params []json.RawMessage `json:"params"`
	}
	if err := json.Unmarshal(fcu, &req); err != nil {
		t.Fatalf("decoding headfcu.json: %v", err)
	}
	params := make([]any, len(req.Params))
	for i, p := range req.Params {
		params[i] = p
	}
	d := devnet.NewDriver(nd.AuthURL(), nd.JWTSecret())
	defer d.Close()
	res, err := d.Call(ctx, req.Method, params...)
	if err != nil {
		t.Fatalf("sending headfcu.json: %v", err)
	}
	if !strings.Contains(string(res), `"VALID"`) {
		t.Fatalf("headfcu.json answered %s", res)
	}
	return nd
}

// startConformanceGateway runs evmgate with one network in front of url,
// with the fixture chain's id.
func startConformanceGateway(t *testing.T, url string, chainID uint64) *gateway.Gateway {
	t.Helper()
	yaml := fmt.Sprintf("log_level: WARN\nlog_requests: false\nnetworks:\n  - name: %s\n    chain_id: %d\n"+
		"    local_poll_interval: 100ms\n    rpc_timeout: 10s\n    local_nodes:\n      - name: node0\n        rpc_endpoint: %q\n",
		networkName, chainID, url)
	cfg, err := config.Parse([]byte(yaml), func(string) (string, bool) { return "", false })
	if err != nil {
		t.Fatalf("parsing gateway config: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	g, err := gateway.StartLocal(ctx, cfg, slog.New(slog.DiscardHandler))
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

// knownGatewayDifferences lists fixtures evmgate answers differently from
// the node, each with its cause; the test fails when one starts to match, so
// the list only shrinks. None today: calls for blocks beyond the head used to
// be retried until the gateway answered 503, and now get the node's own error.
var knownGatewayDifferences = map[string]bool{}

// truncated shortens b for failure messages.
func truncated(b []byte) string {
	const max = 600
	if len(b) <= max {
		return string(b)
	}
	return fmt.Sprintf("%s... (%d bytes)", b[:max], len(b))
}

// isJSONRPCAnswer reports whether b is one JSON-RPC response object.
func isJSONRPCAnswer(b []byte) bool {
	var r struct {
		JSONRPC string          `json:"jsonrpc"`
		Result  json.RawMessage `json:"result"`
		Error   json.RawMessage `json:"error"`
	}
	return json.Unmarshal(b, &r) == nil && r.JSONRPC == "2.0" && (r.Result != nil || r.Error != nil)
}

// TestConformanceFixturesThroughGateway replays execution-apis' RPC test
// fixtures against a node loaded with their chain, once directly and once
// through evmgate, and requires byte-identical answers. Transaction sends
// change the pool, so they go to the gateway first and then directly, and
// only need a JSON-RPC answer from both. The fixtures run twice: the
// second pass is answered from the response cache (the fixture chain is
// finalized at its head) and must still be byte-identical.
func TestConformanceFixturesThroughGateway(t *testing.T) {
	genesis, chain, fcu := conformanceFiles(t)
	fixtures := loadFixtures(t, conformanceDir)
	var gen struct {
		Config struct {
			ChainID uint64 `json:"chainId"`
		} `json:"config"`
	}
	if err := json.Unmarshal(genesis, &gen); err != nil {
		t.Fatalf("decoding genesis chain id: %v", err)
	}
	nd := startChainNode(t, genesis, chain, fcu)
	g := startConformanceGateway(t, nd.HTTPURL(), gen.Config.ChainID)
	waitInSync(t, g, nd.Head(), "node0")
	hc := newHTTPClient()
	defer hc.CloseIdleConnections()
	gw := gatewayURL(g)
	var equal, sends, requests int
	for pass := 1; pass <= 2; pass++ {
		for _, f := range fixtures {
			same, compared := true, false
			for i, req := range f.requests {
				requests++
				if strings.Contains(req, `"eth_sendRawTransaction"`) {
					_, viaGW := postRaw(t, hc, gw, req)
					_, direct := postRaw(t, hc, nd.HTTPURL(), req)
					if !isJSONRPCAnswer(viaGW) || !isJSONRPCAnswer(direct) {
						t.Errorf("%s request %d: not a JSON-RPC answer\n gateway: %s\n direct:  %s",
							f.name, i, truncated(viaGW), truncated(direct))
					}
					sends++
					continue
				}
				compared = true
				stDirect, direct := postRaw(t, hc, nd.HTTPURL(), req)
				stGW, viaGW := postRaw(t, hc, gw, req)
				if stDirect != stGW || !bytes.Equal(direct, viaGW) {
					same = false
					report := t.Errorf
					if knownGatewayDifferences[f.name] {
						report = t.Logf
					}
					report("pass %d: %s request %d differs\n direct  (HTTP %d): %s\n gateway (HTTP %d): %s",
						pass, f.name, i, stDirect, truncated(direct), stGW, truncated(viaGW))
				}
			}
			if same && compared {
				equal++
			}
			if same && knownGatewayDifferences[f.name] {
				t.Errorf("%s now answers the same through the gateway: remove it from knownGatewayDifferences", f.name)
			}
		}
	}
	hits, misses := cacheLookups(t, g)
	if hits == 0 {
		t.Errorf("the second pass hit the cache %v times (%v misses), want hits", hits, misses)
	}
	t.Logf("cache: %v hits, %v misses over both passes", hits, misses)
	if len(fixtures) == 0 {
		t.Fatal("no fixtures found")
	}
	t.Logf("%d fixtures, %d requests: %d fixtures equal through the gateway and directly, %d known differences, %d transaction sends checked for an answer only",
		len(fixtures), requests, equal, len(knownGatewayDifferences), sends)
}
