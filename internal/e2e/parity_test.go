package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math/big"
	"net/http"
	"testing"
	"time"

	ethereum "github.com/ethereum/go-ethereum"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/ethclient"
	"github.com/ethereum/go-ethereum/rpc"
	"github.com/evmgate/evmgate/internal/devnet"
	"github.com/evmgate/evmgate/internal/gateway"
)

var (
	// recipient receives the fixture's transfers.
	recipient = common.HexToAddress("0x00000000000000000000000000000000e2e0e2e0")
	// identityPrecompile returns its input: an eth_call with a known answer.
	identityPrecompile = common.BytesToAddress([]byte{4})
)

// fixture is a chain state with transactions, a contract and logs, built
// with BlockPeriod 0 so every answer is fixed once it is built.
type fixture struct {
	net        *devnet.Net
	gw         *gateway.Gateway
	emitter    common.Address
	transferTx common.Hash // faucet → recipient, sent by the devnet
	logTxs     []common.Hash
	sentTx     common.Hash // account 1 → recipient, sent through the gateway
	txBlock    uint64      // the block holding logTxs[0]
	txHash     common.Hash // its hash
}

func buildFixture(t *testing.T) *fixture {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	f := &fixture{net: startNet(t, devnet.Config{Nodes: 2})}
	f.gw = startGateway(t, nodeURLs(f.net), gwOptions{})
	mineIndexed(t, f.net)
	var err error
	if f.emitter, _, err = f.net.DeployLogEmitter(ctx); err != nil {
		t.Fatal(err)
	}
	if f.transferTx, err = f.net.SendTransfer(ctx, recipient, big.NewInt(1e15)); err != nil {
		t.Fatal(err)
	}
	for i := range 2 {
		h, err := f.net.EmitLog(ctx, f.emitter, fmt.Appendf(nil, "evmgate e2e log %d", i))
		if err != nil {
			t.Fatal(err)
		}
		f.logTxs = append(f.logTxs, h)
	}
	rcpt, err := f.net.WaitMined(ctx, f.logTxs[1])
	if err != nil {
		t.Fatal(err)
	}
	f.txBlock, f.txHash = rcpt.BlockNumber.Uint64(), rcpt.BlockHash
	f.sentTx = f.sendThroughGateway(t, ctx)
	waitInSync(t, f.gw, f.net.Head(), "node0", "node1")
	return f
}

// sendThroughGateway signs a transfer from account 1 and sends it with
// ethclient through the gateway, then has it mined.
func (f *fixture) sendThroughGateway(t *testing.T, ctx context.Context) common.Hash {
	t.Helper()
	gw, _ := dialEth(t, gatewayURL(f.gw))
	from := f.net.Accounts()[1]
	nonce, err := gw.PendingNonceAt(ctx, from.Address)
	if err != nil {
		t.Fatalf("nonce through the gateway: %v", err)
	}
	chainID := new(big.Int).SetUint64(f.net.ChainID())
	tx, err := types.SignNewTx(from.Key, types.LatestSignerForChainID(chainID), &types.DynamicFeeTx{
		ChainID: chainID, Nonce: nonce, GasTipCap: big.NewInt(1e9), GasFeeCap: big.NewInt(50e9),
		Gas: 21000, To: &recipient, Value: big.NewInt(7),
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := gw.SendTransaction(ctx, tx); err != nil {
		t.Fatalf("sending a transaction through the gateway: %v", err)
	}
	if _, err := f.net.WaitMined(ctx, tx.Hash()); err != nil {
		t.Fatal(err)
	}
	return tx.Hash()
}

// rpcCall is one JSON-RPC call of the comparison.
type rpcCall struct {
	method string
	params []any
	check  func(raw json.RawMessage) error // what the answer must hold, besides being equal
}

func notNull(raw json.RawMessage) error {
	if len(raw) == 0 || string(raw) == "null" {
		return fmt.Errorf("result is %q", raw)
	}
	return nil
}

func call(method string, params ...any) rpcCall {
	return rpcCall{method: method, params: params, check: notNull}
}

// calls lists every read the comparison covers.
func (f *fixture) calls() []rpcCall {
	_, faucet := f.net.Faucet()
	block := hexutil.Uint64(f.txBlock)
	logData := hexutil.Bytes("evmgate e2e call")
	logsQuery := map[string]any{"fromBlock": "0x0", "toBlock": "latest", "address": f.emitter, "topics": []any{devnet.LogTopic}}
	getLogs := call("eth_getLogs", logsQuery)
	getLogs.check = func(raw json.RawMessage) error {
		var logs []types.Log
		if err := json.Unmarshal(raw, &logs); err != nil || len(logs) != len(f.logTxs) {
			return fmt.Errorf("want %d logs, got %s (%v)", len(f.logTxs), raw, err)
		}
		return nil
	}
	identity := call("eth_call", map[string]any{"to": identityPrecompile, "data": logData}, "latest")
	identity.check = func(raw json.RawMessage) error {
		if want, _ := json.Marshal(logData); !bytes.Equal(raw, want) {
			return fmt.Errorf("identity precompile answered %s, want %s", raw, want)
		}
		return nil
	}
	return []rpcCall{
		call("eth_chainId"),
		call("eth_blockNumber"),
		call("eth_getBlockByNumber", block, true),
		call("eth_getBlockByNumber", "latest", true),
		call("eth_getBlockByHash", f.txHash, true),
		call("eth_getBalance", recipient, "latest"),
		call("eth_getBalance", faucet, hexutil.Uint64(f.txBlock-1)),
		call("eth_getTransactionByHash", f.transferTx),
		call("eth_getTransactionReceipt", f.logTxs[0]),
		call("eth_getTransactionReceipt", f.sentTx),
		call("eth_getCode", f.emitter, "latest"),
		call("eth_getTransactionCount", faucet, "latest"),
		identity,
		call("eth_call", map[string]any{"from": faucet, "to": f.emitter, "data": logData}, block),
		getLogs,
		call("eth_estimateGas", map[string]any{"from": faucet, "to": f.emitter, "data": logData}),
		call("eth_estimateGas", map[string]any{"from": faucet, "to": recipient, "value": "0x1"}),
	}
}

// TestThroughGatewayAsNodeAnswers builds one chain state and checks, each
// in its own subtest, that the gateway answers as the nodes do.
func TestThroughGatewayAsNodeAnswers(t *testing.T) {
	f := buildFixture(t)
	t.Run("results", func(t *testing.T) { resultsMatch(t, f) })
	t.Run("whole bodies", func(t *testing.T) { bodiesMatch(t, f) })
	t.Run("batch call", func(t *testing.T) { batchMatches(t, f) })
	t.Run("ethclient", func(t *testing.T) { ethclientWorks(t, f) })
}

// resultsMatch compares each call's raw result through the gateway with
// each node's.
func resultsMatch(t *testing.T, f *fixture) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	gw := dialRPC(t, gatewayURL(f.gw))
	calls := f.calls()
	for _, nd := range f.net.Nodes() {
		direct := dialRPC(t, nd.HTTPURL())
		for _, c := range calls {
			var viaGW, viaNode json.RawMessage
			if err := gw.CallContext(ctx, &viaGW, c.method, c.params...); err != nil {
				t.Fatalf("%s through the gateway: %v", c.method, err)
			}
			if err := direct.CallContext(ctx, &viaNode, c.method, c.params...); err != nil {
				t.Fatalf("%s on %s: %v", c.method, nd.Name(), err)
			}
			if !bytes.Equal(viaGW, viaNode) {
				t.Errorf("%s%v: gateway and %s differ\ngateway: %.300s\nnode:    %.300s", c.method, c.params, nd.Name(), viaGW, viaNode)
			}
			if err := c.check(viaGW); err != nil {
				t.Errorf("%s%v: %v", c.method, c.params, err)
			}
		}
	}
}

// requestBody renders calls as one JSON-RPC request (a batch when batch).
func requestBody(t *testing.T, calls []rpcCall, batch bool) string {
	t.Helper()
	var reqs []map[string]any
	for i, c := range calls {
		params := c.params
		if params == nil {
			params = []any{}
		}
		reqs = append(reqs, map[string]any{"jsonrpc": "2.0", "id": i + 1, "method": c.method, "params": params})
	}
	var v any = reqs[0]
	if batch {
		v = reqs
	}
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// bodiesMatch posts identical bodies (single calls and one batch) to the
// gateway and to each node and compares the whole answers.
func bodiesMatch(t *testing.T, f *fixture) {
	hc := newHTTPClient()
	defer hc.CloseIdleConnections()
	calls := f.calls()
	bodies := []string{requestBody(t, calls, true)}
	for i := range calls {
		bodies = append(bodies, requestBody(t, calls[i:i+1], false))
	}
	for _, nd := range f.net.Nodes() {
		for _, body := range bodies {
			gs, gb := postRaw(t, hc, gatewayURL(f.gw), body)
			ns, nb := postRaw(t, hc, nd.HTTPURL(), body)
			if gs != http.StatusOK || ns != http.StatusOK {
				t.Fatalf("status: gateway %d, %s %d for %.120s", gs, nd.Name(), ns, body)
			}
			if !bytes.Equal(gb, nb) {
				t.Errorf("answer to %.120s differs\ngateway: %.300s\n%s:   %.300s", body, gb, nd.Name(), nb)
			}
		}
	}
}

// batchMatches sends every call as one rpc.Client batch.
func batchMatches(t *testing.T, f *fixture) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	calls := f.calls()
	batchOf := func(c *rpc.Client) []json.RawMessage {
		elems := make([]rpc.BatchElem, len(calls))
		out := make([]json.RawMessage, len(calls))
		for i, cl := range calls {
			elems[i] = rpc.BatchElem{Method: cl.method, Args: cl.params, Result: &out[i]}
		}
		if err := c.BatchCallContext(ctx, elems); err != nil {
			t.Fatalf("batch call: %v", err)
		}
		for i, e := range elems {
			if e.Error != nil {
				t.Fatalf("batch element %s: %v", calls[i].method, e.Error)
			}
		}
		return out
	}
	viaGW := batchOf(dialRPC(t, gatewayURL(f.gw)))
	viaNode := batchOf(dialRPC(t, f.net.Nodes()[0].HTTPURL()))
	for i, c := range calls {
		if !bytes.Equal(viaGW[i], viaNode[i]) {
			t.Errorf("batch element %s differs\ngateway: %.300s\nnode:    %.300s", c.method, viaGW[i], viaNode[i])
		}
		if err := c.check(viaGW[i]); err != nil {
			t.Errorf("batch element %s: %v", c.method, err)
		}
	}
}

// ethclientWorks runs ethclient's typed calls through the gateway.
func ethclientWorks(t *testing.T, f *fixture) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	gw, _ := dialEth(t, gatewayURL(f.gw))
	direct, _ := dialEth(t, f.net.Nodes()[1].HTTPURL())

	if id, err := gw.ChainID(ctx); err != nil || id.Uint64() != f.net.ChainID() {
		t.Errorf("ChainID = %v, %v; want %d", id, err, f.net.ChainID())
	}
	if n, err := gw.BlockNumber(ctx); err != nil || n != f.net.Head() {
		t.Errorf("BlockNumber = %d, %v; want %d", n, err, f.net.Head())
	}
	checkBlocks(t, ctx, f, gw, direct)
	checkReceipt(t, ctx, f, gw, direct)

	got, err := gw.BalanceAt(ctx, recipient, nil)
	want, err2 := direct.BalanceAt(ctx, recipient, nil)
	if err != nil || err2 != nil || got.Cmp(want) != 0 || got.Sign() == 0 {
		t.Errorf("BalanceAt = %v (%v), node says %v (%v)", got, err, want, err2)
	}
	input := []byte("through evmgate")
	out, err := gw.CallContract(ctx, ethereumCall(identityPrecompile, input), nil)
	if err != nil || !bytes.Equal(out, input) {
		t.Errorf("CallContract(identity) = %q, %v; want %q", out, err, input)
	}
	_, faucet := f.net.Faucet()
	gas, err := gw.EstimateGas(ctx, transferMsg(faucet))
	if err != nil || gas != 21000 {
		t.Errorf("EstimateGas(transfer) = %d, %v; want 21000", gas, err)
	}
	checkLogs(t, ctx, f, gw)
}

func checkBlocks(t *testing.T, ctx context.Context, f *fixture, gw, direct *ethclient.Client) {
	t.Helper()
	byHash, err := gw.BlockByHash(ctx, f.txHash)
	if err != nil {
		t.Fatalf("BlockByHash through the gateway: %v", err)
	}
	byNumber, err := gw.BlockByNumber(ctx, new(big.Int).SetUint64(f.txBlock))
	if err != nil {
		t.Fatalf("BlockByNumber through the gateway: %v", err)
	}
	want, err := direct.BlockByHash(ctx, f.txHash)
	if err != nil {
		t.Fatalf("BlockByHash on the node: %v", err)
	}
	for _, b := range []*types.Block{byHash, byNumber} {
		if b.Hash() != f.txHash || b.Transactions().Len() != want.Transactions().Len() {
			t.Errorf("block %d: hash %s with %d txs, want %s with %d", b.NumberU64(), b.Hash(), b.Transactions().Len(), f.txHash, want.Transactions().Len())
		}
	}
	if byHash.Transaction(f.logTxs[0]) == nil || byHash.Transaction(f.logTxs[1]) == nil {
		t.Errorf("block %s lacks the log transactions", f.txHash)
	}
}

func checkReceipt(t *testing.T, ctx context.Context, f *fixture, gw, direct *ethclient.Client) {
	t.Helper()
	got, err := gw.TransactionReceipt(ctx, f.sentTx)
	if err != nil {
		t.Fatalf("TransactionReceipt through the gateway: %v", err)
	}
	want, err := direct.TransactionReceipt(ctx, f.sentTx)
	if err != nil {
		t.Fatalf("TransactionReceipt on the node: %v", err)
	}
	gj, _ := json.Marshal(got)
	wj, _ := json.Marshal(want)
	if got.Status != types.ReceiptStatusSuccessful || !bytes.Equal(gj, wj) {
		t.Errorf("receipt through the gateway %s\nnode: %s", gj, wj)
	}
}

func checkLogs(t *testing.T, ctx context.Context, f *fixture, gw *ethclient.Client) {
	t.Helper()
	logs, err := gw.FilterLogs(ctx, logsQuery(f.emitter))
	if err != nil {
		t.Fatalf("FilterLogs through the gateway: %v", err)
	}
	if len(logs) != len(f.logTxs) {
		t.Fatalf("FilterLogs: %d logs, want %d", len(logs), len(f.logTxs))
	}
	for i, l := range logs {
		if l.TxHash != f.logTxs[i] || string(l.Data) != fmt.Sprintf("evmgate e2e log %d", i) {
			t.Errorf("log %d: tx %s data %q", i, l.TxHash, l.Data)
		}
	}
}

func ethereumCall(to common.Address, data []byte) ethereum.CallMsg {
	return ethereum.CallMsg{To: &to, Data: data}
}

func transferMsg(from common.Address) ethereum.CallMsg {
	return ethereum.CallMsg{From: from, To: &recipient, Value: big.NewInt(1)}
}

func logsQuery(emitter common.Address) ethereum.FilterQuery {
	return ethereum.FilterQuery{
		FromBlock: big.NewInt(0), Addresses: []common.Address{emitter},
		Topics: [][]common.Hash{{devnet.LogTopic}},
	}
}
