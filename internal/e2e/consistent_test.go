package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"math/big"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/rpc"
	"github.com/evmgate/evmgate/internal/devnet"
)

// postAs sends body to url as the client id ("" for an anonymous client).
func postAs(t testing.TB, hc *http.Client, url, id, body string) []byte {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if id != "" {
		req.Header.Set("X-Client-ID", id)
	}
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatalf("POST %s: %v", url, err)
	}
	defer resp.Body.Close()
	var out json.RawMessage
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		t.Fatalf("reading answer: %v", err)
	}
	return out
}

// result decodes a single answer's result into v.
func result(t testing.TB, answer []byte, v any) {
	t.Helper()
	var r struct {
		Result json.RawMessage `json:"result"`
		Error  json.RawMessage `json:"error"`
	}
	if err := json.Unmarshal(answer, &r); err != nil || r.Error != nil {
		t.Fatalf("answer %s: %v", answer, err)
	}
	if err := json.Unmarshal(r.Result, v); err != nil {
		t.Fatalf("result %s: %v", r.Result, err)
	}
}

// headAs asks the gateway's eth_blockNumber as the client id.
func headAs(t testing.TB, hc *http.Client, url, id string) uint64 {
	t.Helper()
	var h hexutil.Uint64
	result(t, postAs(t, hc, url, id, blockNumberBody), &h)
	return uint64(h)
}

const blockNumberBody = `{"jsonrpc":"2.0","id":1,"method":"eth_blockNumber","params":[]}`

// TestClientHeadNeverGoesBack serves two real nodes, node1 frozen 3 blocks
// behind (within network_block_diff, so it serves). round_robin sends an
// anonymous client's calls to both, so it sees the head go back; a client
// with an X-Client-ID never does, also in batches, over 1,000 calls while
// the lag keeps changing between 0 and 3 blocks.
func TestClientHeadNeverGoesBack(t *testing.T) {
	net := startNet(t, devnet.Config{Nodes: 2})
	mineIndexed(t, net)
	g := startRoutingGateway(t, routingYAML("",
		routeNode("node0", net.Nodes()[0].HTTPURL()), routeNode("node1", net.Nodes()[1].HTTPURL())))
	waitInSync(t, g, net.Head(), "node0", "node1")
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	lagging := net.Nodes()[1]
	lagging.Freeze()
	mineTo(t, net, net.Head()+3)
	head := net.Head()
	waitInSync(t, g, head, "node0", "node1")
	url := gatewayURL(g)
	hc := newHTTPClient()
	defer hc.CloseIdleConnections()

	seen := map[uint64]bool{}
	for range 10 {
		seen[headAs(t, hc, url, "")] = true
	}
	if !seen[head] || !seen[head-3] {
		t.Fatalf("an anonymous client saw heads %v; want both %d and %d (the test needs both nodes serving)", seen, head, head-3)
	}
	for i := range 20 {
		if h := headAs(t, hc, url, "alice"); i > 0 && h != head {
			t.Fatalf("call %d: alice saw head %d after %d", i, h, head)
		}
	}

	// The lag moves between 0 and 3 blocks while alice keeps calling.
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for k := 0; ; k++ {
			select {
			case <-stop:
				return
			default:
			}
			lagging.Freeze()
			for range 1 + k%3 {
				if _, err := net.Mine(ctx); err != nil {
					return
				}
			}
			if err := lagging.Unfreeze(ctx); err != nil {
				return
			}
		}
	}()
	var last uint64
	for i := range 1000 {
		h := uint64(0)
		if i%4 == 3 {
			h = batchHeadAs(t, hc, url, "alice")
		} else {
			h = headAs(t, hc, url, "alice")
		}
		if h < last {
			close(stop)
			wg.Wait()
			t.Fatalf("call %d: alice saw head %d after %d", i, h, last)
		}
		last = h
	}
	close(stop)
	wg.Wait()
	t.Logf("alice's head went from %d to %d over 1000 calls", head, last)
}

// TestWebSocketConnectionHeadNeverGoesBack: over a WebSocket the
// connection itself is the client, without any header.
func TestWebSocketConnectionHeadNeverGoesBack(t *testing.T) {
	net := startNet(t, devnet.Config{Nodes: 2})
	mineIndexed(t, net)
	g := startRoutingGateway(t, routingYAML("",
		routeNode("node0", net.Nodes()[0].HTTPURL()), routeNode("node1", net.Nodes()[1].HTTPURL())))
	net.Nodes()[1].Freeze()
	mineTo(t, net, net.Head()+3)
	head := net.Head()
	waitInSync(t, g, head, "node0", "node1")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	c, err := rpc.DialContext(ctx, strings.Replace(gatewayURL(g), "http://", "ws://", 1))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	var last uint64
	for i := range 40 {
		var h hexutil.Uint64
		if err := c.CallContext(ctx, &h, "eth_blockNumber"); err != nil {
			t.Fatal(err)
		}
		if uint64(h) < last {
			t.Fatalf("call %d: the connection saw head %d after %d", i, h, last)
		}
		last = uint64(h)
	}
	if last != head {
		t.Fatalf("the connection ended at head %d, want %d", last, head)
	}
}

// batchHeadAs asks eth_blockNumber inside a batch, with a call at the head.
func batchHeadAs(t testing.TB, hc *http.Client, url, id string) uint64 {
	t.Helper()
	body := `[{"jsonrpc":"2.0","id":1,"method":"eth_getBlockByNumber","params":["latest",false]},` + blockNumberBody + `]`
	var els []json.RawMessage
	if err := json.Unmarshal(postAs(t, hc, url, id, body), &els); err != nil || len(els) != 2 {
		t.Fatalf("batch answer: %v (%d elements)", err, len(els))
	}
	var h hexutil.Uint64
	result(t, els[1], &h)
	return uint64(h)
}

// signedTransfer signs a transfer from the faucet with the given nonce.
func signedTransfer(t *testing.T, net *devnet.Net, nonce uint64) *types.Transaction {
	t.Helper()
	key, _ := net.Faucet()
	chainID := new(big.Int).SetUint64(net.ChainID())
	to := common.HexToAddress("0x00000000000000000000000000000000000000aa")
	tx, err := types.SignNewTx(key, types.LatestSignerForChainID(chainID), &types.DynamicFeeTx{
		ChainID: chainID, Nonce: nonce, GasTipCap: big.NewInt(1e9), GasFeeCap: big.NewInt(100e9),
		Gas: 21000, To: &to, Value: big.NewInt(1),
	})
	if err != nil {
		t.Fatal(err)
	}
	return tx
}

// TestReadYourWrites sends a transaction through the gateway as bob: one
// node takes it and the other has not seen it (the devnet gossips only when
// it builds a block). bob's lookups of it, and his pending nonce, go to
// the node that took it, while an anonymous client's calls reach both
// nodes and miss it on one. Once mined on that node alone (the other
// frozen), bob's receipt lookups still never reach the other node; once
// the other node has the receipt's block, they reach it again.
func TestReadYourWrites(t *testing.T) {
	net := startNet(t, devnet.Config{Nodes: 2})
	mineIndexed(t, net)
	spies := []*spy{startSpy(t, net.Nodes()[0].HTTPURL(), 0), startSpy(t, net.Nodes()[1].HTTPURL(), 0)}
	g := startRoutingGateway(t, routingYAML("", routeNode("node0", spies[0].URL()), routeNode("node1", spies[1].URL())))
	waitInSync(t, g, net.Head(), "node0", "node1")
	url := gatewayURL(g)
	hc := newHTTPClient()
	defer hc.CloseIdleConnections()
	_, faucet := net.Faucet()
	nonceBody := callBody("1", "eth_getTransactionCount", fmt.Sprintf("%q", faucet.Hex()), `"pending"`)
	var nonce hexutil.Uint64
	result(t, postAs(t, hc, url, "", nonceBody), &nonce)

	tx := signedTransfer(t, net, uint64(nonce))
	raw, _ := tx.MarshalBinary()
	var hash common.Hash
	result(t, postAs(t, hc, url, "bob", callBody("1", "eth_sendRawTransaction", fmt.Sprintf("%q", hexutil.Encode(raw)))), &hash)
	if hash != tx.Hash() {
		t.Fatalf("eth_sendRawTransaction = %s, want %s", hash, tx.Hash())
	}
	taker, other := 0, 1
	if spies[1].count("eth_sendRawTransaction") > 0 {
		taker, other = 1, 0
	}
	byHash := callBody("1", "eth_getTransactionByHash", fmt.Sprintf("%q", hash.Hex()))
	misses := 0
	for range 10 {
		if string(resultOf(t, postAs(t, hc, url, "", byHash))) == "null" {
			misses++
		}
	}
	if misses == 0 {
		t.Fatal("an anonymous client always found the transaction: the test needs a node without it")
	}
	before := spies[other].count("eth_getTransactionByHash")
	for i := range 20 {
		if string(resultOf(t, postAs(t, hc, url, "bob", byHash))) == "null" {
			t.Fatalf("lookup %d: bob does not find his own transaction", i)
		}
		var n hexutil.Uint64
		result(t, postAs(t, hc, url, "bob", nonceBody), &n)
		if uint64(n) != uint64(nonce)+1 {
			t.Fatalf("lookup %d: bob's pending nonce is %d, want %d", i, n, nonce+1)
		}
	}
	if got := spies[other].count("eth_getTransactionByHash") - before; got != 0 {
		t.Fatalf("the node without the transaction got %d of bob's lookups", got)
	}

	// Mined on the taker alone: bob's receipt comes from it.
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	net.Nodes()[other].Freeze()
	if _, err := net.Mine(ctx); err != nil {
		t.Fatal(err)
	}
	receipt := callBody("1", "eth_getTransactionReceipt", fmt.Sprintf("%q", hash.Hex()))
	waitUntil(t, 10*time.Second, "the receipt on the taker", func() bool {
		return string(resultOf(t, postAs(t, hc, spies[taker].URL(), "", receipt))) != "null"
	})
	before = spies[other].count("eth_getTransactionReceipt")
	for i := range 20 {
		if string(resultOf(t, postAs(t, hc, url, "bob", receipt))) == "null" {
			t.Fatalf("receipt lookup %d: bob gets null", i)
		}
	}
	if got := spies[other].count("eth_getTransactionReceipt") - before; got != 0 {
		t.Fatalf("the node that has not seen the transaction got %d of bob's receipt lookups", got)
	}

	// Once the other node has the receipt's block, bob's lookups spread again.
	if err := net.Nodes()[other].Unfreeze(ctx); err != nil {
		t.Fatal(err)
	}
	otherName := fmt.Sprintf("node%d", other)
	waitUntil(t, 15*time.Second, "the gateway to see the other node at the head", func() bool {
		st, _ := nodeStatus(g, otherName)
		return st.Eligible && st.Head == net.Head()
	})
	waitUntil(t, 10*time.Second, "the receipt on the other node", func() bool {
		return string(resultOf(t, postAs(t, hc, spies[other].URL(), "", receipt))) != "null"
	})
	before = spies[other].count("eth_getTransactionReceipt")
	for i := range 10 {
		if string(resultOf(t, postAs(t, hc, url, "bob", receipt))) == "null" {
			t.Fatalf("receipt lookup %d after the other node caught up: bob gets null", i)
		}
	}
	if spies[other].count("eth_getTransactionReceipt") == before {
		t.Fatal("after the other node reached the receipt's block, bob's lookups still avoid it")
	}
}

// resultOf returns a single answer's raw result.
func resultOf(t testing.TB, answer []byte) json.RawMessage {
	t.Helper()
	var r struct {
		Result json.RawMessage `json:"result"`
	}
	if err := json.Unmarshal(answer, &r); err != nil {
		t.Fatalf("answer %s: %v", answer, err)
	}
	return r.Result
}
