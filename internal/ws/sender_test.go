package ws_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/params"
	"github.com/evmgate/evmgate/internal/devnet"
)

// logSender sends log-emitting transactions from one dev account through
// one node, keeping its own nonce, so tests control where they go.
type logSender struct {
	t        testing.TB
	url      string
	account  devnet.Account
	chainID  *big.Int
	contract common.Address
	nonce    uint64
	sent     []common.Hash
}

func newLogSender(t testing.TB, n *devnet.Net, nd *devnet.Node, account int, contract common.Address) *logSender {
	s := &logSender{t: t, url: nd.HTTPURL(), account: n.Accounts()[account], chainID: new(big.Int).SetUint64(n.ChainID()), contract: contract}
	var nonce hexutil.Uint64
	s.rpc("eth_getTransactionCount", &nonce, s.account.Address, "pending")
	s.nonce = uint64(nonce)
	return s
}

func (s *logSender) rpc(method string, out any, params ...any) error {
	body, _ := json.Marshal(map[string]any{"jsonrpc": "2.0", "id": 1, "method": method, "params": params})
	resp, err := http.Post(s.url, "application/json", bytes.NewReader(body))
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var m struct {
		Result json.RawMessage `json:"result"`
		Error  *struct{ Message string }
	}
	if err := json.Unmarshal(b, &m); err != nil {
		return fmt.Errorf("%s: %s", method, b)
	}
	if m.Error != nil {
		return fmt.Errorf("%s: %s", method, m.Error.Message)
	}
	if out != nil {
		return json.Unmarshal(m.Result, out)
	}
	return nil
}

// send sends one transaction emitting a log with data.
func (s *logSender) send(data []byte) common.Hash {
	s.t.Helper()
	h, err := s.trySend(data)
	if err != nil {
		s.t.Fatal(err)
	}
	return h
}

// trySend is send for goroutines other than the test's.
func (s *logSender) trySend(data []byte) (common.Hash, error) {
	gas := uint64(80_000 + 44*len(data))
	tx, err := types.SignNewTx(s.account.Key, types.LatestSignerForChainID(s.chainID), &types.DynamicFeeTx{
		ChainID: s.chainID, Nonce: s.nonce, GasTipCap: big.NewInt(params.GWei), GasFeeCap: big.NewInt(50 * params.GWei),
		Gas: gas, To: &s.contract, Data: data,
	})
	if err != nil {
		return common.Hash{}, err
	}
	raw, _ := tx.MarshalBinary()
	if err := s.rpc("eth_sendRawTransaction", nil, hexutil.Bytes(raw)); err != nil {
		return common.Hash{}, fmt.Errorf("sending log transaction: %w", err)
	}
	s.nonce++
	s.sent = append(s.sent, tx.Hash())
	return tx.Hash(), nil
}

// waitMined waits until every sent transaction has a receipt.
func (s *logSender) waitMined(timeout time.Duration) {
	s.t.Helper()
	deadline := time.Now().Add(timeout)
	for _, h := range s.sent {
		for {
			var r json.RawMessage
			if err := s.rpc("eth_getTransactionReceipt", &r, h); err == nil && len(r) > 0 && string(r) != "null" {
				break
			}
			if time.Now().After(deadline) {
				s.t.Fatalf("transaction %s not mined", h)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
}

func deployEmitter(t testing.TB, n *devnet.Net) common.Address {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	addr, _, err := n.DeployLogEmitter(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return addr
}

// logInfo is what tests read from a log notification.
type logInfo struct {
	TxHash      common.Hash `json:"transactionHash"`
	BlockNumber string      `json:"blockNumber"`
	BlockHash   common.Hash `json:"blockHash"`
	LogIndex    string      `json:"logIndex"`
	Removed     bool        `json:"removed"`
}

func decodeLog(t testing.TB, raw json.RawMessage) logInfo {
	var l logInfo
	if err := json.Unmarshal(raw, &l); err != nil {
		t.Fatalf("decoding log %s: %v", raw, err)
	}
	return l
}

// every sends a log each period until ctx ends, then hands over the hashes sent.
func (s *logSender) every(ctx context.Context, period time.Duration, sent chan<- []common.Hash) {
	tick := time.NewTicker(period)
	defer tick.Stop()
	for i := 0; ; i++ {
		select {
		case <-ctx.Done():
			sent <- s.sent
			return
		case <-tick.C:
			if _, err := s.trySend([]byte(fmt.Sprintf("log %d", i))); err != nil {
				s.t.Error(err)
			}
		}
	}
}
