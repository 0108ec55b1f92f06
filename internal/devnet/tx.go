package devnet

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/ethereum/go-ethereum/params"
)

// LogTopic is topic 0 of every log the log emitter contract writes.
var LogTopic = crypto.Keccak256Hash([]byte("EvmgateLog(bytes)"))

// logEmitterCode is the init code of the log emitter. Its runtime copies the
// calldata to memory and emits it as LOG1 with LogTopic:
//
//	CALLDATASIZE PUSH1 0 PUSH1 0 CALLDATACOPY
//	PUSH32 LogTopic CALLDATASIZE PUSH1 0 LOG1 STOP
//
// The 11-byte constructor copies the 44-byte runtime and returns it.
func logEmitterCode() []byte {
	runtime := []byte{0x36, 0x60, 0x00, 0x60, 0x00, 0x37, 0x7f}
	runtime = append(runtime, LogTopic[:]...)
	runtime = append(runtime, 0x36, 0x60, 0x00, 0xa1, 0x00)
	ctor := []byte{
		0x60, byte(len(runtime)), // PUSH1 len
		0x80,       // DUP1
		0x60, 0x0b, // PUSH1 11 (runtime offset)
		0x60, 0x00, // PUSH1 0
		0x39,       // CODECOPY
		0x60, 0x00, // PUSH1 0
		0xf3, // RETURN
	}
	return append(ctor, runtime...)
}

// Fees of every transaction the Net sends.
var (
	txTipCap = big.NewInt(params.GWei)
	txFeeCap = big.NewInt(50 * params.GWei)
)

// txIndexingMessage is geth's answer for a transaction it does not find
// while its transaction indexer is busy.
const txIndexingMessage = "transaction indexing is in progress"

// maxMineForReceipt bounds how many blocks WaitMined mines itself.
const maxMineForReceipt = 5

// SendTransfer sends wei from the faucet to to through a running node. The
// next block includes it.
func (n *Net) SendTransfer(ctx context.Context, to common.Address, wei *big.Int) (common.Hash, error) {
	tx, err := n.sendTx(ctx, n.accounts[0], &to, wei, nil, params.TxGas)
	if err != nil {
		return common.Hash{}, fmt.Errorf("sending transfer: %w", err)
	}
	return tx.Hash(), nil
}

// DeployLogEmitter deploys the log emitter contract from the faucet and
// waits until it is mined (mining itself when BlockPeriod is 0).
func (n *Net) DeployLogEmitter(ctx context.Context) (common.Address, common.Hash, error) {
	tx, err := n.sendTx(ctx, n.accounts[0], nil, nil, logEmitterCode(), 200_000)
	if err != nil {
		return common.Address{}, common.Hash{}, fmt.Errorf("deploying log emitter: %w", err)
	}
	rcpt, err := n.WaitMined(ctx, tx.Hash())
	if err != nil {
		return common.Address{}, tx.Hash(), fmt.Errorf("deploying log emitter: %w", err)
	}
	if rcpt.Status != types.ReceiptStatusSuccessful {
		return common.Address{}, tx.Hash(), errors.New("deploying log emitter: transaction reverted")
	}
	return crypto.CreateAddress(n.accounts[0].Address, tx.Nonce()), tx.Hash(), nil
}

// EmitLog sends a transaction that makes contract (a log emitter) emit a log
// with topic LogTopic and data as its data. It does not wait.
func (n *Net) EmitLog(ctx context.Context, contract common.Address, data []byte) (common.Hash, error) {
	gas := 60_000 + 40*uint64(len(data))
	tx, err := n.sendTx(ctx, n.accounts[0], &contract, nil, data, gas)
	if err != nil {
		return common.Hash{}, fmt.Errorf("emitting log: %w", err)
	}
	return tx.Hash(), nil
}

// SendTx signs an EIP-1559 transaction from one of Accounts() and sends it
// through a running node. A nil to creates a contract.
func (n *Net) SendTx(ctx context.Context, from Account, to *common.Address, wei *big.Int, data []byte, gas uint64) (*types.Transaction, error) {
	return n.sendTx(ctx, from, to, wei, data, gas)
}

func (n *Net) sendTx(ctx context.Context, from Account, to *common.Address, wei *big.Int, data []byte, gas uint64) (*types.Transaction, error) {
	n.txMu.Lock()
	defer n.txMu.Unlock()
	nd := n.pickNode(true)
	if nd == nil {
		return nil, ErrNoNode
	}
	_, rpc, ok := nd.drivers()
	if !ok {
		return nil, ErrStopped
	}
	raw, err := rpc.Call(ctx, "eth_getTransactionCount", from.Address, "pending")
	if err != nil {
		return nil, fmt.Errorf("reading nonce: %w", err)
	}
	var poolNonce hexutil.Uint64
	if err := json.Unmarshal(raw, &poolNonce); err != nil {
		return nil, fmt.Errorf("decoding nonce: %w", err)
	}
	nonce := max(uint64(poolNonce), n.nonces[from.Address])
	if wei == nil {
		wei = new(big.Int)
	}
	chainID := new(big.Int).SetUint64(n.cfg.ChainID)
	tx, err := types.SignNewTx(from.Key, types.LatestSignerForChainID(chainID), &types.DynamicFeeTx{
		ChainID: chainID, Nonce: nonce, GasTipCap: txTipCap, GasFeeCap: txFeeCap,
		Gas: gas, To: to, Value: wei, Data: data,
	})
	if err != nil {
		return nil, fmt.Errorf("signing transaction: %w", err)
	}
	enc, err := tx.MarshalBinary()
	if err != nil {
		return nil, fmt.Errorf("encoding transaction: %w", err)
	}
	if _, err := rpc.Call(ctx, "eth_sendRawTransaction", hexutil.Bytes(enc)); err != nil {
		return nil, fmt.Errorf("sending transaction to %s: %w", nd.name, err)
	}
	n.nonces[from.Address] = nonce + 1
	// Hand the transaction to the other nodes at once, as p2p gossip would,
	// so stopping the receiving node does not lose it.
	for _, other := range n.nodes {
		if other != nd {
			other.offerTx(tx)
		}
	}
	return tx, nil
}

// pickNode returns the next running node in turn, preferring unfrozen ones
// when preferLive is set; nil if none runs. The caller holds txMu.
func (n *Net) pickNode(preferLive bool) *Node {
	var fallback *Node
	for i := range n.nodes {
		nd := n.nodes[(n.nextTx+i)%len(n.nodes)]
		if !nd.Running() {
			continue
		}
		if !preferLive || !nd.Frozen() {
			n.nextTx = (n.nextTx + i + 1) % len(n.nodes)
			return nd
		}
		if fallback == nil {
			fallback = nd
		}
	}
	return fallback
}

// Receipt returns the receipt of hash from a running, unfrozen node, or
// nil if the transaction is not mined yet.
func (n *Net) Receipt(ctx context.Context, hash common.Hash) (*types.Receipt, error) {
	var rpc *Driver
	for _, nd := range n.nodes {
		if nd.eligible() {
			_, rpc, _ = nd.drivers()
			break
		}
	}
	if rpc == nil {
		return nil, ErrNoNode
	}
	raw, err := rpc.Call(ctx, "eth_getTransactionReceipt", hash)
	var rpcErr *RPCError
	if errors.As(err, &rpcErr) && rpcErr.Message == txIndexingMessage {
		// geth cannot tell "unknown" from "not indexed yet" while its
		// indexer runs; a mined transaction is always found, so this one
		// is not mined yet.
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading receipt: %w", err)
	}
	if string(raw) == "null" {
		return nil, nil
	}
	var r types.Receipt
	if err := json.Unmarshal(raw, &r); err != nil {
		return nil, fmt.Errorf("decoding receipt: %w", err)
	}
	return &r, nil
}

// WaitMined waits for the receipt of hash. With BlockPeriod 0 it mines up to
// a few blocks itself; otherwise it waits for the producer.
func (n *Net) WaitMined(ctx context.Context, hash common.Hash) (*types.Receipt, error) {
	for mined := 0; ; {
		ch := n.HeadChanged()
		r, err := n.Receipt(ctx, hash)
		if err != nil || r != nil {
			return r, err
		}
		if n.cfg.BlockPeriod > 0 {
			select {
			case <-ch:
				continue
			case <-ctx.Done():
				return nil, fmt.Errorf("waiting for %s: %w", hash, ctx.Err())
			}
		}
		if mined == maxMineForReceipt {
			return nil, fmt.Errorf("waiting for %s: not included after %d blocks", hash, mined)
		}
		if _, err := n.Mine(ctx); err != nil {
			return nil, fmt.Errorf("waiting for %s: %w", hash, err)
		}
		mined++
	}
}
