package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/evmgate/evmgate/internal/metrics"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/evmgate/evmgate/internal/devnet"
	"github.com/evmgate/evmgate/internal/gateway"
)

// cacheLookups sums evmgate_cache_lookups_total of the test network.
func cacheLookups(t testing.TB, g *gateway.Gateway) (hits, misses float64) {
	t.Helper()
	var err1, err2 error
	hits, err1 = metrics.Sum(g.Registry(), "evmgate_cache_lookups_total", map[string]string{"network": networkName, "result": "hit"})
	misses, err2 = metrics.Sum(g.Registry(), "evmgate_cache_lookups_total", map[string]string{"network": networkName, "result": "miss"})
	if err := errors.Join(err1, err2); err != nil {
		t.Fatalf("gathering metrics: %v", err)
	}
	return hits, misses
}

// postCache sends body to the gateway and returns the answer and its
// X-Cache header.
func postCache(t testing.TB, hc *http.Client, url, body string) ([]byte, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatalf("POST %s: %v", url, err)
	}
	defer resp.Body.Close()
	var b bytes.Buffer
	if _, err := b.ReadFrom(resp.Body); err != nil {
		t.Fatal(err)
	}
	return b.Bytes(), resp.Header.Get("X-Cache")
}

func callBody(id, method string, params ...string) string {
	return fmt.Sprintf(`{"jsonrpc":"2.0","id":%s,"method":%q,"params":[%s]}`, id, method, strings.Join(params, ","))
}

// gatewayFinalized waits until the gateway's finalized block is at least n.
func gatewayFinalized(t testing.TB, g *gateway.Gateway, want uint64) {
	t.Helper()
	waitUntil(t, 20*time.Second, fmt.Sprintf("finalized block %d seen by the gateway", want), func() bool {
		f, ok := g.Finalized(networkName)
		return ok && f >= want
	})
}

// TestCacheHitIsNodeBytes: a finalized block asked twice through the
// gateway is answered once by a node; the second answer is the node's bytes
// with the second client's id, marked X-Cache: HIT; a call for the head
// block or for "latest" is never looked up nor kept.
func TestCacheHitIsNodeBytes(t *testing.T) {
	n := startNet(t, devnet.Config{Nodes: 2})
	for range 8 {
		mineIndexed(t, n)
	}
	g := startGateway(t, nodeURLs(n), gwOptions{})
	hc := newHTTPClient()
	defer hc.CloseIdleConnections()
	gw := gatewayURL(g)
	gatewayFinalized(t, g, 4)

	direct, _ := postCache(t, hc, n.Nodes()[0].HTTPURL(), callBody(`"direct"`, "eth_getBlockByNumber", `"0x3"`, "true"))
	first, x1 := postCache(t, hc, gw, callBody("1", "eth_getBlockByNumber", `"0x3"`, "true"))
	second, x2 := postCache(t, hc, gw, callBody(`"x-2"`, "eth_getBlockByNumber", ` "0x3" `, "true"))
	if x1 != "MISS" || x2 != "HIT" {
		t.Fatalf("X-Cache %q then %q, want MISS then HIT", x1, x2)
	}
	if !bytes.Equal(first, bytes.Replace(direct, []byte(`"id":"direct"`), []byte(`"id":1`), 1)) {
		t.Fatalf("miss differs from the node's answer:\n%s\n%s", first, direct)
	}
	if want := bytes.Replace(direct, []byte(`"id":"direct"`), []byte(`"id":"x-2"`), 1); !bytes.Equal(second, want) {
		t.Fatalf("hit differs from the node's answer:\n%s\n%s", second, want)
	}
	head := fmt.Sprintf(`"0x%x"`, n.Head())
	for range 2 {
		if _, x := postCache(t, hc, gw, callBody("1", "eth_getBlockByNumber", head, "false")); x != "" {
			t.Fatalf("head block: X-Cache %q, want none (above the finalized block, never looked up)", x)
		}
	}
	for range 2 {
		if _, x := postCache(t, hc, gw, callBody("1", "eth_getBlockByNumber", `"latest"`, "false")); x != "" {
			t.Fatalf("latest: X-Cache %q, want none (never looked up)", x)
		}
	}
}

// TestCacheNeverServesOrphans: through reorgs of depth 1 and 3, nothing of
// an orphaned block (the block, a receipt, logs, block receipts) is ever
// answered from the cache: after each reorg, the gateway's answers equal a
// node's.
func TestCacheNeverServesOrphans(t *testing.T) {
	n := startNet(t, devnet.Config{Nodes: 2})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	contract, _, err := n.DeployLogEmitter(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for range 6 {
		mineIndexed(t, n)
	}
	g := startGateway(t, nodeURLs(n), gwOptions{})
	hc := newHTTPClient()
	defer hc.CloseIdleConnections()
	gw := gatewayURL(g)
	node := n.Nodes()[0].HTTPURL()
	for _, depth := range []int{1, 3} {
		tx, err := n.EmitLog(ctx, contract, []byte("reorg"))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := n.WaitMined(ctx, tx); err != nil {
			t.Fatal(err)
		}
		head := n.Head()
		waitInSync(t, g, head, "node0", "node1")
		calls := orphanCalls(n, tx, head, depth)
		for range 2 { // ask twice: the second would be a hit if the answers were kept
			for _, c := range calls {
				if _, x := postCache(t, hc, gw, c); x == "HIT" {
					t.Fatalf("depth %d: unfinalized answer served from the cache: %s", depth, c)
				}
			}
		}
		orphaned, _, err := n.Reorg(ctx, depth)
		if err != nil {
			t.Fatal(err)
		}
		waitUntil(t, 20*time.Second, "the gateway's nodes on the new branch", func() bool {
			b, _ := postCache(t, hc, gw, callBody("1", "eth_getBlockByNumber", fmt.Sprintf(`"0x%x"`, head), "false"))
			return !bytes.Contains(b, []byte(orphaned[len(orphaned)-1].Hash.Hex()))
		})
		for _, c := range append(calls, orphanCalls(n, tx, head, depth)...) {
			viaGW, _ := postCache(t, hc, gw, c)
			direct, _ := postCache(t, hc, node, c)
			for _, o := range orphaned {
				if bytes.Contains(viaGW, []byte(strings.ToLower(o.Hash.Hex()))) && !bytes.Contains(direct, []byte(strings.ToLower(o.Hash.Hex()))) {
					t.Fatalf("depth %d: the gateway answered with orphaned block %d %s:\n%s\nnode: %s", depth, o.Number, o.Hash, viaGW, direct)
				}
			}
		}
	}
	// Blocks that became final are kept: the cache is not simply off.
	hits, _ := cacheLookups(t, g)
	gatewayFinalized(t, g, 2)
	b := callBody("1", "eth_getBlockByNumber", `"0x2"`, "false")
	postCache(t, hc, gw, b)
	if _, x := postCache(t, hc, gw, b); x != "HIT" {
		t.Fatalf("finalized block 2: X-Cache %q, want HIT", x)
	}
	if h, _ := cacheLookups(t, g); h <= hits {
		t.Fatal("no hit counted")
	}
}

// orphanCalls are the lookups that name blocks at and below head.
func orphanCalls(n *devnet.Net, tx common.Hash, head uint64, depth int) []string {
	var out []string
	for num := head - uint64(depth) + 1; num <= head; num++ {
		q := fmt.Sprintf(`"0x%x"`, num)
		out = append(out,
			callBody("1", "eth_getBlockByNumber", q, "true"),
			callBody("2", "eth_getBlockReceipts", q),
			callBody("3", "eth_getLogs", fmt.Sprintf(`{"fromBlock":%s,"toBlock":%s}`, q, q)))
		if b, ok := n.Block(num); ok {
			h, _ := json.Marshal(b.Hash)
			out = append(out, callBody("4", "eth_getBlockByHash", string(h), "false"),
				callBody("5", "eth_getBlockReceipts", string(h)))
		}
	}
	h, _ := json.Marshal(tx)
	return append(out, callBody("6", "eth_getTransactionReceipt", string(h)), callBody("7", "eth_getTransactionByHash", string(h)))
}
