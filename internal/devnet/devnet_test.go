package devnet

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/big"
	"net"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/ethclient"
	"go.uber.org/goleak"
)

// gethLeaks are goroutines go-ethereum keeps for the life of the process:
// the Engine API's heartbeat (one per node start; it sleeps 30 s, then loops
// forever and has no stop) and the process-wide transaction sender cache.
var gethLeaks = []goleak.Option{
	goleak.IgnoreAnyFunction("github.com/ethereum/go-ethereum/eth/catalyst.(*ConsensusAPI).heartbeat"),
	goleak.IgnoreAnyFunction("github.com/ethereum/go-ethereum/core.(*txSenderCacher).cache"),
	// A payload build that was started but never delivered (its builder was
	// stopped, or another node took over) keeps improving it until geth's
	// own build timeout; node Close does not stop it.
	goleak.IgnoreAnyFunction("github.com/ethereum/go-ethereum/miner.(*Miner).buildPayload.func1"),
}

// TestMain fails the run if any other goroutine outlives the tests. The
// p2p node database (goleveldb) drains its memory pool for up to a second
// after Close, so the check is retried for a few seconds.
func TestMain(m *testing.M) {
	code := m.Run()
	if code == 0 {
		deadline := time.Now().Add(5 * time.Second)
		for {
			err := goleak.Find(gethLeaks...)
			if err == nil {
				break
			}
			if time.Now().After(deadline) {
				fmt.Fprintln(os.Stderr, "goroutines outlived the tests:", err)
				code = 1
				break
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	os.Exit(code)
}

// testCtx returns a context that ends with the test or after a minute.
func testCtx(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	t.Cleanup(cancel)
	return ctx
}

func startNet(t *testing.T, cfg Config) *Net {
	t.Helper()
	n, err := Start(testCtx(t), cfg)
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() {
		if err := n.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return n
}

func dial(t *testing.T, url string) *ethclient.Client {
	t.Helper()
	c, err := ethclient.Dial(url)
	if err != nil {
		t.Fatalf("dial %s: %v", url, err)
	}
	t.Cleanup(c.Close)
	return c
}

func mine(t *testing.T, n *Net, count int) uint64 {
	t.Helper()
	var num uint64
	for range count {
		var err error
		if num, err = n.Mine(testCtx(t)); err != nil {
			t.Fatalf("Mine: %v", err)
		}
	}
	return num
}

func blockNumber(t *testing.T, nd *Node) uint64 {
	t.Helper()
	num, err := nd.BlockNumber(testCtx(t))
	if err != nil {
		t.Fatalf("%s BlockNumber: %v", nd.Name(), err)
	}
	return num
}

// rssMB reads the process's resident set size.
func rssMB(t *testing.T) int {
	t.Helper()
	raw, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return -1
	}
	for line := range strings.SplitSeq(string(raw), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "VmRSS:" {
			kb, _ := strconv.Atoi(f[1])
			return kb / 1024
		}
	}
	return -1
}

func TestMineImportsOnAllNodes(t *testing.T) {
	before := rssMB(t)
	begin := time.Now()
	n := startNet(t, Config{})
	startTime := time.Since(begin)
	if len(n.Nodes()) != 3 || n.ChainID() != 1337 {
		t.Fatalf("nodes %d chain id %d, want 3 and 1337", len(n.Nodes()), n.ChainID())
	}
	const blocks = 10
	begin = time.Now()
	head := mine(t, n, blocks)
	perBlock := time.Since(begin) / blocks
	if head != blocks || n.Head() != blocks {
		t.Fatalf("head %d / %d, want %d", head, n.Head(), blocks)
	}
	want := n.HeadHash()
	for _, nd := range n.Nodes() {
		c := dial(t, nd.HTTPURL())
		h, err := c.HeaderByNumber(testCtx(t), nil)
		if err != nil {
			t.Fatalf("%s latest header: %v", nd.Name(), err)
		}
		if h.Number.Uint64() != blocks || h.Hash() != want {
			t.Fatalf("%s head %d %s, want %d %s", nd.Name(), h.Number, h.Hash(), blocks, want)
		}
		id, err := c.ChainID(testCtx(t))
		if err != nil || id.Uint64() != 1337 {
			t.Fatalf("%s chain id %v %v", nd.Name(), id, err)
		}
	}
	t.Logf("start 3 nodes: %v; %v per block (build + import on 3); RSS %d MB -> %d MB",
		startTime.Round(time.Millisecond), perBlock.Round(100*time.Microsecond), before, rssMB(t))
}

func TestSendTransferIncluded(t *testing.T) {
	n := startNet(t, Config{Nodes: 2})
	to := common.HexToAddress("0x00000000000000000000000000000000000b0b01")
	wei := big.NewInt(123456789)
	hash, err := n.SendTransfer(testCtx(t), to, wei)
	if err != nil {
		t.Fatalf("SendTransfer: %v", err)
	}
	num := mine(t, n, 1)
	blk, _ := n.Block(num)
	if blk.TxCount != 1 {
		t.Fatalf("block %d has %d transactions, want 1", num, blk.TxCount)
	}
	for _, nd := range n.Nodes() {
		c := dial(t, nd.HTTPURL())
		rcpt, err := c.TransactionReceipt(testCtx(t), hash)
		if err != nil {
			t.Fatalf("%s receipt: %v", nd.Name(), err)
		}
		if rcpt.Status != 1 || rcpt.BlockNumber.Uint64() != num {
			t.Fatalf("%s receipt status %d block %d, want 1 and %d", nd.Name(), rcpt.Status, rcpt.BlockNumber, num)
		}
		// Mine waits for the transaction index, so an unknown hash is
		// plainly not found rather than "indexing in progress".
		if _, err := c.TransactionReceipt(testCtx(t), common.Hash{1}); !errors.Is(err, ethereum.NotFound) {
			t.Fatalf("%s receipt of an unknown hash: %v, want not found", nd.Name(), err)
		}
		bal, err := c.BalanceAt(testCtx(t), to, nil)
		if err != nil || bal.Cmp(wei) != 0 {
			t.Fatalf("%s balance %v (%v), want %v", nd.Name(), bal, err, wei)
		}
	}
}

func TestTransfersGossipToBuilder(t *testing.T) {
	n := startNet(t, Config{Nodes: 3})
	var hashes []common.Hash
	for i := range 6 { // round robin over the nodes' pools
		h, err := n.SendTransfer(testCtx(t), common.BigToAddress(big.NewInt(int64(0xa000+i))), big.NewInt(1))
		if err != nil {
			t.Fatalf("SendTransfer %d: %v", i, err)
		}
		hashes = append(hashes, h)
	}
	// A transaction sent straight to the last node, as a wallet would,
	// reaches the builder (node0) through the Net's pool gossip.
	from := n.Accounts()[1]
	chainID := new(big.Int).SetUint64(n.ChainID())
	ext, err := types.SignNewTx(from.Key, types.LatestSignerForChainID(chainID), &types.DynamicFeeTx{
		ChainID: chainID, Nonce: 0, GasTipCap: big.NewInt(1e9), GasFeeCap: big.NewInt(50e9),
		Gas: 21000, To: &from.Address, Value: big.NewInt(1),
	})
	if err != nil {
		t.Fatalf("signing: %v", err)
	}
	if err := dial(t, n.Nodes()[2].HTTPURL()).SendTransaction(testCtx(t), ext); err != nil {
		t.Fatalf("eth_sendRawTransaction to node2: %v", err)
	}
	hashes = append(hashes, ext.Hash())
	num := mine(t, n, 1)
	if blk, _ := n.Block(num); blk.TxCount != len(hashes) {
		t.Fatalf("block has %d transactions, want %d", blk.TxCount, len(hashes))
	}
	for _, h := range hashes {
		if r, err := n.Receipt(testCtx(t), h); err != nil || r == nil || r.Status != 1 {
			t.Fatalf("receipt of %s: %+v %v", h, r, err)
		}
	}
}

func TestLogEmitter(t *testing.T) {
	n := startNet(t, Config{Nodes: 2})
	addr, _, err := n.DeployLogEmitter(testCtx(t))
	if err != nil {
		t.Fatalf("DeployLogEmitter: %v", err)
	}
	data := []byte("hello from evmgate")
	hash, err := n.EmitLog(testCtx(t), addr, data)
	if err != nil {
		t.Fatalf("EmitLog: %v", err)
	}
	rcpt, err := n.WaitMined(testCtx(t), hash)
	if err != nil || rcpt.Status != 1 {
		t.Fatalf("WaitMined: %+v %v", rcpt, err)
	}
	c := dial(t, n.Nodes()[1].HTTPURL())
	logs, err := c.FilterLogs(testCtx(t), ethereum.FilterQuery{
		FromBlock: big.NewInt(0), Addresses: []common.Address{addr}, Topics: [][]common.Hash{{LogTopic}},
	})
	if err != nil {
		t.Fatalf("eth_getLogs: %v", err)
	}
	if len(logs) != 1 || logs[0].TxHash != hash || !bytes.Equal(logs[0].Data, data) {
		t.Fatalf("logs = %+v, want one log of %s with data %q", logs, hash, data)
	}
}

func TestFreezeLagsThenCatchesUp(t *testing.T) {
	n := startNet(t, Config{})
	base := mine(t, n, 2)
	frozen := n.Nodes()[2]
	frozen.Freeze()
	if !frozen.Frozen() {
		t.Fatal("Frozen() = false after Freeze")
	}
	const k = 4
	head := mine(t, n, k)
	if got := blockNumber(t, frozen); got != base {
		t.Fatalf("frozen node at %d, want %d", got, base)
	}
	for _, nd := range n.Nodes()[:2] {
		if got := blockNumber(t, nd); got != head {
			t.Fatalf("%s at %d, want %d", nd.Name(), got, head)
		}
	}
	if err := frozen.Unfreeze(testCtx(t)); err != nil {
		t.Fatalf("Unfreeze: %v", err)
	}
	if got := blockNumber(t, frozen); got != head {
		t.Fatalf("unfrozen node at %d, want %d", got, head)
	}
	if got := mine(t, n, 1); blockNumber(t, frozen) != got {
		t.Fatalf("unfrozen node did not follow block %d", got)
	}
}

func TestStopRestartSamePorts(t *testing.T) {
	n := startNet(t, Config{})
	mine(t, n, 2)
	nd := n.Nodes()[1]
	httpURL, wsURL, authURL := nd.HTTPURL(), nd.WSURL(), nd.AuthURL()
	if err := nd.Stop(); err != nil {
		t.Fatalf("Stop: %v", err)
	}
	if nd.Running() {
		t.Fatal("Running() = true after Stop")
	}
	probe := NewDriver(httpURL, nil)
	_, err := probe.Call(testCtx(t), "eth_blockNumber")
	probe.Close()
	if err == nil {
		t.Fatal("stopped node still answers on its port")
	}
	head := mine(t, n, 3)
	if err := nd.Restart(testCtx(t)); err != nil {
		t.Fatalf("Restart: %v", err)
	}
	if nd.HTTPURL() != httpURL || nd.WSURL() != wsURL || nd.AuthURL() != authURL {
		t.Fatalf("urls changed: %s %s %s -> %s %s %s", httpURL, wsURL, authURL, nd.HTTPURL(), nd.WSURL(), nd.AuthURL())
	}
	if got := blockNumber(t, nd); got != head {
		t.Fatalf("restarted node at %d, want %d", got, head)
	}
	c := dial(t, nd.WSURL())
	if h, err := c.HeaderByNumber(testCtx(t), nil); err != nil || h.Hash() != n.HeadHash() {
		t.Fatalf("restarted node head over ws: %v %v", h, err)
	}
}

func TestMineWithAllButOneStopped(t *testing.T) {
	n := startNet(t, Config{})
	for _, nd := range n.Nodes()[:2] {
		if err := nd.Stop(); err != nil {
			t.Fatalf("Stop: %v", err)
		}
	}
	head := mine(t, n, 3)
	if got := blockNumber(t, n.Nodes()[2]); got != head {
		t.Fatalf("node2 at %d, want %d", got, head)
	}
	n.Nodes()[2].Freeze()
	if _, err := n.Mine(testCtx(t)); !errors.Is(err, ErrNoNode) {
		t.Fatalf("Mine with no running, unfrozen node: %v, want ErrNoNode", err)
	}
}

func TestRestartRetriesTakenPort(t *testing.T) {
	n := startNet(t, Config{Nodes: 1})
	n.rebindTimeout = 300 * time.Millisecond
	nd := n.Nodes()[0]
	addr := strings.TrimPrefix(nd.HTTPURL(), "http://")
	if err := nd.Stop(); err != nil {
		t.Fatalf("Stop: %v", err)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatalf("taking the node's port: %v", err)
	}
	err = nd.Restart(testCtx(t))
	ln.Close()
	if !errors.Is(err, syscall.EADDRINUSE) || nd.Running() {
		t.Fatalf("Restart on a taken port: %v (running %v), want EADDRINUSE", err, nd.Running())
	}
	if err := nd.Restart(testCtx(t)); err != nil {
		t.Fatalf("Restart after the port was freed: %v", err)
	}
	if nd.HTTPURL() != "http://"+addr {
		t.Fatalf("url %s, want http://%s", nd.HTTPURL(), addr)
	}
	if got := mine(t, n, 1); blockNumber(t, nd) != got {
		t.Fatalf("restarted node did not import block %d", got)
	}
}
