//go:build !nodemo

package main

import (
	"context"
	"math/big"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/ethereum/go-ethereum/ethclient"
	"github.com/ethereum/go-ethereum/params"
)

// `evmgate demo` as a user runs it: the intro names the URLs and funded
// throwaway keys; a wallet-like client sends a transfer with a printed key
// through the gateway and sees it mined; a WebSocket client gets new heads
// pushed by the nodes; SIGTERM ends it with exit 0 and nothing listening.
func TestDemoAsProcess(t *testing.T) {
	rpcPort, metricsPort := freePort(t), freePort(t)
	notice, knowable := demoNotice()
	p := startProc(t, nil, "demo", "-port", itoa(rpcPort), "-metrics-port", itoa(metricsPort))
	intro := p.waitOutput(p.stdout, "Ctrl-C stops it.", 3*time.Minute)
	// A run that builds says so, and why, before it starts compiling; one
	// that finds the binary up to date says nothing of a build.
	if stderr := p.stderr.String(); knowable && (notice == "" && strings.Contains(stderr, "building the demo") ||
		notice != "" && firstLine(stderr) != notice) {
		t.Errorf("want the first line %q, stderr:\n%s", notice, stderr)
	}
	url := "http://" + addr(rpcPort) + "/devnet"
	wsURL := "ws://" + addr(rpcPort) + "/devnet"
	for _, want := range []string{url, wsURL, url + "/blocknumber", "THROWAWAY KEYS", "cast send", "ethers"} {
		if !strings.Contains(intro, want) {
			t.Fatalf("the intro lacks %q:\n%s", want, intro)
		}
	}
	keys := regexp.MustCompile(`private key (0x[0-9a-f]{64})`).FindAllStringSubmatch(intro, -1)
	if len(keys) == 0 {
		t.Fatalf("no private key in the intro:\n%s", intro)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()

	client, err := ethclient.DialContext(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	first, err := client.BlockNumber(ctx)
	if err != nil {
		t.Fatal(err)
	}
	eventually(t, time.Minute, "a new block through the demo", func() bool {
		n, err := client.BlockNumber(ctx)
		return err == nil && n > first
	})
	if code, body := get(t, url+"/blocknumber"); code != 200 || !strings.Contains(body, `"result":"0x`) {
		t.Fatalf("the demo's REST API: %d %s", code, body)
	}
	receipt := sendTransfer(ctx, t, client, keys[0][1])
	if receipt.Status != types.ReceiptStatusSuccessful {
		t.Fatalf("transfer failed: %+v", receipt)
	}

	wsClient, err := ethclient.DialContext(ctx, wsURL)
	if err != nil {
		t.Fatal(err)
	}
	defer wsClient.Close()
	heads := make(chan *types.Header, 16)
	sub, err := wsClient.SubscribeNewHead(ctx, heads)
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Unsubscribe()
	var last uint64
	for range 2 {
		select {
		case h := <-heads:
			if h.Number.Uint64() <= last {
				t.Fatalf("head %d after %d", h.Number.Uint64(), last)
			}
			last = h.Number.Uint64()
		case err := <-sub.Err():
			t.Fatal(err)
		case <-ctx.Done():
			t.Fatal("no new head over the WebSocket")
		}
	}
	// Pushed by a node over its WebSocket, not polled.
	_, metrics := get(t, "http://"+addr(metricsPort)+"/metrics")
	if !regexp.MustCompile(`(?m)^evmgate_ws_upstream_connections\{[^}]*\} [1-9]`).MatchString(metrics) {
		t.Fatalf("no upstream WebSocket connection in the metrics:\n%s", grepLines(metrics, "evmgate_ws_upstream"))
	}

	code, took := p.terminate(30 * time.Second)
	if code != 0 {
		t.Fatalf("exit code %d after SIGTERM", code)
	}
	t.Logf("the demo exited %v after SIGTERM", took)
	if !refused(addr(rpcPort)) || !refused(addr(metricsPort)) {
		t.Fatal("a port still listens after the demo exited")
	}
}

// sendTransfer sends 0.01 ether from key to a fixed address and waits for the receipt.
func sendTransfer(ctx context.Context, t *testing.T, client *ethclient.Client, hexKey string) *types.Receipt {
	t.Helper()
	key, err := crypto.HexToECDSA(strings.TrimPrefix(hexKey, "0x"))
	if err != nil {
		t.Fatal(err)
	}
	from := crypto.PubkeyToAddress(key.PublicKey)
	chainID, err := client.ChainID(ctx)
	if err != nil {
		t.Fatal(err)
	}
	nonce, err := client.PendingNonceAt(ctx, from)
	if err != nil {
		t.Fatal(err)
	}
	tip := big.NewInt(params.GWei)
	head, err := client.HeaderByNumber(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	feeCap := new(big.Int).Add(new(big.Int).Mul(head.BaseFee, big.NewInt(2)), tip)
	to := common.HexToAddress("0x000000000000000000000000000000000000dEaD")
	tx, err := types.SignNewTx(key, types.LatestSignerForChainID(chainID), &types.DynamicFeeTx{
		ChainID: chainID, Nonce: nonce, GasTipCap: tip, GasFeeCap: feeCap, Gas: params.TxGas,
		To: &to, Value: big.NewInt(1e16),
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := client.SendTransaction(ctx, tx); err != nil {
		t.Fatalf("sending a transfer through the demo: %v", err)
	}
	for {
		r, err := client.TransactionReceipt(ctx, tx.Hash())
		if err == nil {
			return r
		}
		select {
		case <-ctx.Done():
			t.Fatalf("transfer %s not mined: %v", tx.Hash(), err)
		case <-time.After(200 * time.Millisecond):
		}
	}
}
