package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/evmgate/evmgate/internal/devnet"
	"github.com/evmgate/evmgate/internal/fakenode"
	"github.com/evmgate/evmgate/internal/gateway"
	"github.com/evmgate/evmgate/internal/metrics"
)

// logChain is a devnet of 2 nodes whose chain holds a log emitter's logs
// in one block of every 3, over blocks blocks.
func logChain(t *testing.T, blocks int) (*devnet.Net, common.Address) {
	t.Helper()
	n := startNet(t, devnet.Config{Nodes: 2, BuildWait: 2 * time.Millisecond})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	c, _, err := n.DeployLogEmitter(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for i := range blocks {
		if i%3 == 0 {
			for k := range 1 + i%2 {
				if _, err := n.EmitLog(ctx, c, []byte{byte(i), byte(i >> 8), byte(k)}); err != nil {
					t.Fatal(err)
				}
			}
		}
		if _, err := n.Mine(ctx); err != nil {
			t.Fatal(err)
		}
	}
	return n, c
}

// withNetworkKeys adds keys to the test network of a gateway YAML.
func withNetworkKeys(yaml string, keys ...string) string {
	var b strings.Builder
	for _, k := range keys {
		b.WriteString("    " + k + "\n")
	}
	return strings.Replace(yaml, "    local_nodes:\n", b.String()+"    local_nodes:\n", 1)
}

// getLogsEvents reads evmgate_getlogs_total{event} of the test network.
func getLogsEvents(t testing.TB, g *gateway.Gateway, event string) float64 {
	t.Helper()
	v, err := metrics.Sum(g.Registry(), "evmgate_getlogs_total", map[string]string{"network": networkName, "event": event})
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func logsCall(id, filter string) string {
	return `{"jsonrpc":"2.0","id":` + id + `,"method":"eth_getLogs","params":[` + filter + `]}`
}

// sameAsNode asks the node and the gateway the same filter and fails
// unless the gateway's answer is the node's, byte for byte, id aside.
func sameAsNode(t *testing.T, hc *http.Client, node, gw, filter string) []byte {
	t.Helper()
	_, direct := postRaw(t, hc, node, logsCall(`"direct"`, filter))
	_, got := postRaw(t, hc, gw, logsCall(`"gw"`, filter))
	want := bytes.Replace(direct, []byte(`"id":"direct"`), []byte(`"id":"gw"`), 1)
	if !bytes.Equal(got, want) {
		t.Fatalf("filter %s: the gateway's answer differs from the node's:\ngateway %.300s\nnode    %.300s", filter, got, want)
	}
	return got
}

// TestGetLogsSplitEqualsNode: with chunks of 7 blocks, eth_getLogs over the
// whole chain (numbers, tags, an address, topics, a blockHash, a range past
// the head) answers the node's bytes; the calls were split into chunks
// across both nodes; a finalized range asked again is served from the cache
// chunk by chunk.
func TestGetLogsSplitEqualsNode(t *testing.T) {
	n, contract := logChain(t, 240)
	y := withNetworkKeys(gatewayYAML(nodeURLs(n), gwOptions{}), "logs_chunk_blocks: 7", "logs_split_concurrency: 3")
	g := startGatewayLogged(t, y, testLog(t))
	hc := newHTTPClient()
	defer hc.CloseIdleConnections()
	gw := gatewayURL(g)
	head := n.Head()
	waitInSync(t, g, head, "node0", "node1")
	node := n.Nodes()[0].HTTPURL()

	all := sameAsNode(t, hc, node, gw, `{"fromBlock":"0x0","toBlock":"`+hexu(head)+`"}`)
	if c := bytes.Count(all, []byte(`"logIndex"`)); c < 100 {
		t.Fatalf("only %d logs over the chain", c)
	}
	if s := getLogsEvents(t, g, "split"); s != 1 {
		t.Fatalf("split %v calls, want 1", s)
	}
	if c := getLogsEvents(t, g, "chunk"); c < float64(head)/7 {
		t.Fatalf("%v chunks for %d blocks of 7", c, head)
	}
	for _, f := range []string{
		`{"fromBlock":"earliest","toBlock":"latest"}`,
		`{"fromBlock":"0x5"}`,
		`{"fromBlock":"0x3","toBlock":"0x60","address":"` + strings.ToLower(contract.Hex()) + `"}`,
		`{"fromBlock":"0x3","toBlock":"0x60","address":"0x00000000000000000000000000000000000000aa"}`,
		`{"fromBlock":"0x0","toBlock":"finalized","topics":[["` + devnet.LogTopic.Hex() + `"]]}`,
		`{"fromBlock":"0x10","toBlock":"safe"}`,
		`{"fromBlock":"0x10","toBlock":"` + hexu(head+50) + `"}`,
		`{"fromBlock":"` + hexu(head+1) + `","toBlock":"` + hexu(head+50) + `"}`,
		`{"blockHash":"` + n.HeadHash().Hex() + `"}`,
		`{"fromBlock":"0x20","toBlock":"0x10"}`,
	} {
		sameAsNode(t, hc, node, gw, f)
	}
	served := servedCalls(t, g)
	if served["node0"] == 0 || served["node1"] == 0 {
		t.Fatalf("chunks went to %v, want both nodes", served)
	}

	gatewayFinalized(t, g, head-8)
	f := `{"fromBlock":"0x1","toBlock":"` + hexu(head-20) + `"}`
	sameAsNode(t, hc, node, gw, f)
	hits, _ := cacheLookups(t, g)
	before := servedCalls(t, g)
	sameAsNode(t, hc, node, gw, `{"fromBlock":"0x1","toBlock":"`+hexu(head-21)+`"}`) // the same chunks but the last
	if more, _ := cacheLookups(t, g); more-hits < float64(head-21)/7-1 {
		t.Fatalf("%v chunk hits, want every finalized chunk but the last", more-hits)
	}
	var asked float64
	for _, v := range delta(before, servedCalls(t, g)) {
		asked += v
	}
	if asked > 1 {
		t.Fatalf("the nodes answered %v calls, want 1 (the last chunk; the others are in the cache)", asked)
	}
}

// testLog is the log of a test gateway: warnings in verbose runs.
func testLog(t testing.TB) *slog.Logger {
	if testing.Verbose() {
		return slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn}))
	}
	return slog.New(slog.DiscardHandler)
}

func hexu(n uint64) string { return "0x" + strconv.FormatUint(n, 16) }

// logFilter is what the test proxies read of an eth_getLogs request.
type logFilter struct {
	Method string `json:"method"`
	Params []struct {
		From string `json:"fromBlock"`
		To   string `json:"toBlock"`
	} `json:"params"`
}

// limitProxy stands in front of a real node and answers eth_getLogs over
// more than limit blocks the way geth and Infura do; a range holding block
// failAt (when set) gets HTTP 502.
type limitProxy struct {
	limit  uint64
	failAt atomic.Uint64
	logs   atomic.Int64 // eth_getLogs calls received
	bodies chan []byte  // the eth_getLogs bodies received (buffered)
	rp     *httputil.ReverseProxy
}

func startLimitProxy(t *testing.T, node string, limit uint64) (*limitProxy, string) {
	t.Helper()
	u, err := url.Parse(node)
	if err != nil {
		t.Fatal(err)
	}
	p := &limitProxy{limit: limit, rp: httputil.NewSingleHostReverseProxy(u), bodies: make(chan []byte, 10000)}
	srv := httptest.NewServer(p)
	t.Cleanup(srv.Close)
	return p, srv.URL
}

func (p *limitProxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var body bytes.Buffer
	if _, err := body.ReadFrom(r.Body); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	var f logFilter
	if json.Unmarshal(body.Bytes(), &f) == nil && f.Method == "eth_getLogs" {
		p.logs.Add(1)
		select {
		case p.bodies <- bytes.Clone(body.Bytes()):
		default:
		}
		from, _ := strconv.ParseUint(strings.TrimPrefix(f.Params[0].From, "0x"), 16, 64)
		to, err := strconv.ParseUint(strings.TrimPrefix(f.Params[0].To, "0x"), 16, 64)
		if fail := p.failAt.Load(); err == nil && fail != 0 && from <= fail && fail <= to {
			http.Error(w, "bad gateway", http.StatusBadGateway)
			return
		}
		if err == nil && to-from+1 > p.limit {
			w.Header().Set("Content-Type", "application/json")
			fmt.Fprintf(w, `{"jsonrpc":"2.0","id":1,"error":{"code":-32005,"message":"query returned more than 10000 results"}}`)
			return
		}
	}
	r.Body = nopCloser{bytes.NewReader(body.Bytes())}
	r.ContentLength = int64(body.Len())
	p.rp.ServeHTTP(w, r)
}

type nopCloser struct{ *bytes.Reader }

func (nopCloser) Close() error { return nil }

// TestGetLogsBisection: a node that refuses more than 5 blocks at once;
// chunks of 64 blocks are cut in two until they pass, and the stitched
// answer is the node's own over the whole range. With splitting off the
// call goes through whole, once, as the client wrote it, and the node's
// refusal is the answer.
func TestGetLogsBisection(t *testing.T) {
	n, _ := logChain(t, 150)
	node := n.Nodes()[0].HTTPURL()
	p, purl := startLimitProxy(t, node, 5)
	g := startGatewayLogged(t, withNetworkKeys(gatewayYAML([]string{purl}, gwOptions{}), "logs_chunk_blocks: 64"), testLog(t))
	hc := newHTTPClient()
	defer hc.CloseIdleConnections()
	waitInSync(t, g, n.Head(), "node0")
	sameAsNode(t, hc, node, gatewayURL(g), `{"fromBlock":"0x0","toBlock":"latest"}`)
	if b := getLogsEvents(t, g, "bisect"); b < 20 {
		t.Fatalf("%v bisections, want chunks of 64 cut down to 5 blocks", b)
	}

	off := startGatewayLogged(t, withNetworkKeys(gatewayYAML([]string{purl}, gwOptions{}), "logs_split: false", "cache: false"), testLog(t))
	waitInSync(t, off, n.Head(), "node0")
	before := p.logs.Load()
	for len(p.bodies) > 0 {
		<-p.bodies
	}
	body := logsCall("3", `{"fromBlock":"0x0", "toBlock":"`+hexu(n.Head())+`"}`)
	_, got := postRaw(t, hc, gatewayURL(off), body)
	if !bytes.Contains(got, []byte("query returned more than 10000 results")) || bytes.Contains(got, []byte(`"result"`)) {
		t.Fatalf("split off: %.300s, want the node's refusal", got)
	}
	if c := p.logs.Load() - before; c < 1 || c > 3 {
		t.Fatalf("split off: the node got %d eth_getLogs calls, want 1 and its retries (rpc_retries 2)", c)
	}
	for len(p.bodies) > 0 {
		if sent := <-p.bodies; string(sent) != body {
			t.Fatalf("split off: the node got %s, want the client's %s", sent, body)
		}
	}
}

// TestGetLogsLimits: a range over max_logs_block_range is refused without a
// node call, with an error naming the range, the limit and the fix; a chunk
// no node can answer fails the whole call (no partial answer).
func TestGetLogsLimits(t *testing.T) {
	n, _ := logChain(t, 60)
	node := n.Nodes()[0].HTTPURL()
	p, purl := startLimitProxy(t, node, 1000)
	y := withNetworkKeys(gatewayYAML([]string{purl}, gwOptions{Retries: 1}), "max_logs_block_range: 40", "logs_chunk_blocks: 10", "cache: false")
	g := startGatewayLogged(t, y, testLog(t))
	hc := newHTTPClient()
	defer hc.CloseIdleConnections()
	waitInSync(t, g, n.Head(), "node0")
	gw := gatewayURL(g)

	status, got := postRaw(t, hc, gw, logsCall("1", `{"fromBlock":"0x1","toBlock":"0x29"}`))
	var ans struct {
		Error struct {
			Code    int    `json:"code"`
			Message string `json:"message"`
		} `json:"error"`
		Result json.RawMessage `json:"result"`
	}
	if err := json.Unmarshal(got, &ans); err != nil || status != http.StatusOK {
		t.Fatalf("status %d, %s", status, got)
	}
	if ans.Error.Code != -32005 || !strings.Contains(ans.Error.Message, "1-41") || !strings.Contains(ans.Error.Message, "41 blocks") ||
		!strings.Contains(ans.Error.Message, "max_logs_block_range of 40") || !strings.Contains(ans.Error.Message, "at most 40 blocks") {
		t.Fatalf("refusal %s", got)
	}
	if c := p.logs.Load(); c != 0 {
		t.Fatalf("the node got %d eth_getLogs calls for a refused range", c)
	}
	_, got = postRaw(t, hc, gw, "["+logsCall("1", `{"fromBlock":"0x1","toBlock":"0x29"}`)+`,{"jsonrpc":"2.0","id":2,"method":"eth_chainId","params":[]}]`)
	if !bytes.Contains(got, []byte(`{"jsonrpc":"2.0","id":1,"error":{"code":-32005,`)) || !bytes.Contains(got, []byte(`"id":2,"result":"0x539"`)) || p.logs.Load() != 0 {
		t.Fatalf("batch: %s (node calls %d), want the call refused and the other answered", got, p.logs.Load())
	}
	sameAsNode(t, hc, node, gw, `{"fromBlock":"0x1","toBlock":"0x28"}`)

	p.failAt.Store(25)
	_, got = postRaw(t, hc, gw, logsCall("2", `{"fromBlock":"0x1","toBlock":"0x28"}`))
	ans.Result = nil
	if err := json.Unmarshal(got, &ans); err != nil || ans.Result != nil || ans.Error.Code != -32050 {
		t.Fatalf("a failed chunk gave %s, want the gateway's error and no result", got)
	}
}

// rangeNode is a fake node whose chain is head blocks long with a log in
// every fourth block, generated from the block number; it refuses an
// eth_getLogs range over limit blocks the way geth and Infura do. Everything
// else is the fake node's.
type rangeNode struct {
	*fakenode.Node
	limit uint64
	logs  atomic.Int64
}

func (rn *rangeNode) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		return
	}
	var f logFilter
	if json.Unmarshal(body, &f) != nil || f.Method != "eth_getLogs" {
		r.Body = nopCloser{bytes.NewReader(body)}
		rn.Node.ServeHTTP(w, r)
		return
	}
	rn.logs.Add(1)
	var id struct {
		ID json.RawMessage `json:"id"`
	}
	_ = json.Unmarshal(body, &id)
	block := func(v string) uint64 {
		if v == "" || v == "latest" {
			return rn.Head()
		}
		n, _ := strconv.ParseUint(strings.TrimPrefix(v, "0x"), 16, 64)
		return n
	}
	from, to := block(f.Params[0].From), block(f.Params[0].To)
	w.Header().Set("Content-Type", "application/json")
	if to-from+1 > rn.limit {
		fmt.Fprintf(w, `{"jsonrpc":"2.0","id":%s,"error":{"code":-32005,"message":"query returned more than 10000 results"}}`, id.ID)
		return
	}
	w.Write(rangeLogs(id.ID, from, to))
}

// rangeLogs is the rangeNode's answer over from..to.
func rangeLogs(id []byte, from, to uint64) []byte {
	out := append([]byte(`{"jsonrpc":"2.0","id":`), id...)
	out = append(out, `,"result":[`...)
	first := true
	for b := from; b <= to; b++ {
		if b%4 != 0 {
			continue
		}
		if !first {
			out = append(out, ',')
		}
		first = false
		out = fmt.Appendf(out, `{"address":"0x00000000000000000000000000000000000000aa","topics":["0x%064x"],"data":"0x%064x",`+
			`"blockNumber":"0x%x","transactionHash":"0x%064x","transactionIndex":"0x0","blockHash":"0x%064x","logIndex":"0x0","removed":false}`,
			b*7, b, b, b*13, b*17)
	}
	return append(out, "]}\n"...)
}

// TestGetLogs10000Blocks: eth_getLogs over 10,000 blocks equals the node's
// own answer, split into chunks of 2,000 and, with chunks of 3,000 from a
// node that refuses more than 2,000 blocks, bisected. A devnet mines about
// a hundred blocks a second, so the chain here is a fake node's, generated
// from the block number.
func TestGetLogs10000Blocks(t *testing.T) {
	fn, err := fakenode.Start(fakenode.Options{Name: "range", ChainID: 1337, Head: 10_000})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(fn.Close)
	rn := &rangeNode{Node: fn, limit: 2000}
	srv := httptest.NewServer(rn)
	t.Cleanup(srv.Close)
	hc := newHTTPClient()
	defer hc.CloseIdleConnections()
	want := rangeLogs([]byte(`7`), 0, 9999)
	for _, chunk := range []int{2000, 3000} {
		y := withNetworkKeys(gatewayYAML([]string{srv.URL}, gwOptions{}), fmt.Sprintf("logs_chunk_blocks: %d", chunk), "cache: false")
		g := startGatewayLogged(t, y, testLog(t))
		waitInSync(t, g, 10_000, "node0")
		before := rn.logs.Load()
		_, got := postRaw(t, hc, gatewayURL(g), logsCall("7", `{"fromBlock":"0x0","toBlock":"0x270f"}`))
		if !bytes.Equal(got, want) {
			t.Fatalf("chunks of %d: the answer (%d bytes) differs from the node's (%d bytes)", chunk, len(got), len(want))
		}
		calls, bisect := rn.logs.Load()-before, getLogsEvents(t, g, "bisect")
		t.Logf("chunks of %d: %d node calls, %v bisections, %d bytes", chunk, calls, bisect, len(got))
		if chunk == 2000 && (calls != 5 || bisect != 0) || chunk == 3000 && (calls != 10 || bisect != 3) {
			t.Fatalf("chunks of %d: %d calls, %v bisections", chunk, calls, bisect)
		}
	}
}
