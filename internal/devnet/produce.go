package devnet

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/crypto"
)

const (
	// blockTimeout bounds one block of the producer.
	blockTimeout = 30 * time.Second
	// callTimeout bounds one Engine API call made by the Net.
	callTimeout = 8 * time.Second
	// buildAttempts is how often a block is rebuilt when it came out empty
	// although transactions were pending.
	buildAttempts = 3
)

// ErrNoNode is returned when no node is running and unfrozen.
var ErrNoNode = errors.New("devnet: no running, unfrozen node")

// ErrClosed is returned by calls on a closed Net.
var ErrClosed = errors.New("devnet: closed")

// feeRecipient receives the priority fees of every block.
var feeRecipient = common.BytesToAddress(crypto.Keccak256([]byte("evmgate devnet fee recipient")))

// NextAttributes returns attributes for building the block after Head():
// timestamp max(parent+1, now), a beacon root from BeaconRoot, no
// withdrawals.
func (n *Net) NextAttributes() *PayloadAttributes {
	n.mu.Lock()
	num := uint64(len(n.blocks))
	parent := n.hashLocked(num)
	parentTime := n.cfg.GenesisTime
	if num > 0 {
		parentTime = n.blocks[num-1].Timestamp
	}
	recipient := n.recipientLocked()
	n.mu.Unlock()
	ts := max(parentTime+1, uint64(time.Now().Unix()))
	return attributesFor(parent, num+1, ts, recipient)
}

func attributesFor(parent common.Hash, number, ts uint64, recipient common.Address) *PayloadAttributes {
	var buf [8]byte
	binary.BigEndian.PutUint64(buf[:], number)
	return &PayloadAttributes{
		Timestamp:             hexutil.Uint64(ts),
		PrevRandao:            crypto.Keccak256Hash([]byte("evmgate devnet randao"), buf[:]),
		SuggestedFeeRecipient: recipient,
		Withdrawals:           []*types.Withdrawal{},
		ParentBeaconBlockRoot: BeaconRoot(parent, ts),
	}
}

// Mine builds one block on a running, unfrozen node, imports it on every
// running, unfrozen node and moves their heads to it. It returns the new
// block's number. A builder that fails hands over to the next node.
func (n *Net) Mine(ctx context.Context) (uint64, error) {
	n.mineMu.Lock()
	defer n.mineMu.Unlock()
	return n.mineLocked(ctx)
}

// mineLocked is Mine; the caller holds mineMu.
func (n *Net) mineLocked(ctx context.Context) (uint64, error) {
	if n.isClosed() {
		return 0, ErrClosed
	}
	var errs []error
	tried := 0
	for i := range n.nodes {
		idx := (n.nextBuilder + i) % len(n.nodes)
		b := n.nodes[idx]
		if !b.eligible() {
			continue
		}
		tried++
		blk, err := n.buildOn(ctx, b)
		if err == nil {
			err = n.commit(ctx, blk)
		}
		if err == nil {
			n.nextBuilder = (idx + 1) % len(n.nodes)
			return blk.Number, nil
		}
		errs = append(errs, fmt.Errorf("%s: %w", b.name, err))
		if ctx.Err() != nil {
			break
		}
	}
	if tried == 0 {
		return 0, fmt.Errorf("mining block %d: %w", n.Head()+1, ErrNoNode)
	}
	return 0, fmt.Errorf("mining block %d: %w", n.Head()+1, errors.Join(errs...))
}

// buildOn brings b to the head and has it build the next block; the caller
// holds mineMu.
func (n *Net) buildOn(ctx context.Context, b *Node) (Block, error) {
	if err := n.syncLocked(ctx, b); err != nil {
		return Block{}, err
	}
	pending := n.gossip(b)
	attrs := n.NextAttributes()
	wait := n.cfg.BuildWait
	for attempt := 1; ; attempt++ {
		blk, err := n.buildOnce(ctx, b, attrs, pending > 0, wait)
		if err != nil {
			return Block{}, err
		}
		if pending == 0 || blk.TxCount > 0 || attempt == buildAttempts {
			return blk, nil
		}
		n.log.Debug("built block is empty, rebuilding", "node", b.name, "pending", pending)
		attrs = attributesFor(blk.ParentHash, blk.Number, uint64(attrs.Timestamp)+1, attrs.SuggestedFeeRecipient)
		wait *= 2
	}
}

// buildOnce runs forkchoiceUpdated with attrs, optionally waits, and fetches
// the payload.
func (n *Net) buildOnce(ctx context.Context, b *Node, attrs *PayloadAttributes, fill bool, wait time.Duration) (Block, error) {
	engine, _, ok := b.drivers()
	if !ok {
		return Block{}, ErrStopped
	}
	head, safe, final := n.Forkchoice()
	cctx, cancel := context.WithTimeout(ctx, callTimeout)
	st, id, err := engine.ForkchoiceUpdated(cctx, head, safe, final, attrs)
	cancel()
	if err != nil {
		return Block{}, fmt.Errorf("starting build: %w", err)
	}
	if st.Status != StatusValid || id == "" {
		return Block{}, fmt.Errorf("starting build: status %s, payload id %q", st, id)
	}
	if fill {
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return Block{}, ctx.Err()
		case <-t.C:
		}
	}
	cctx, cancel = context.WithTimeout(ctx, callTimeout)
	payload, env, err := engine.GetPayload(cctx, id)
	cancel()
	if err != nil {
		return Block{}, fmt.Errorf("fetching payload: %w", err)
	}
	return NewBlock(payload, env, attrs.ParentBeaconBlockRoot)
}

// commit imports blk on every running, unfrozen node and records it when at
// least one node accepted it; the caller holds mineMu.
func (n *Net) commit(ctx context.Context, blk Block) error {
	n.mu.Lock()
	if blk.ParentHash != n.hashLocked(uint64(len(n.blocks))) || blk.Number != uint64(len(n.blocks))+1 {
		n.mu.Unlock()
		return fmt.Errorf("block %d %s does not extend the head", blk.Number, blk.Hash)
	}
	safe, final := n.safeFinalLocked(blk.Number)
	n.mu.Unlock()
	var accepted []*Node
	var errs []error
	for _, nd := range n.nodes {
		if !nd.eligible() {
			continue
		}
		err := n.syncLocked(ctx, nd)
		if err == nil {
			err = importBlock(ctx, nd, blk, safe, final)
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", nd.name, err))
			n.log.Debug("importing block failed", "node", nd.name, "number", blk.Number, "err", err)
			continue
		}
		accepted = append(accepted, nd)
	}
	if len(accepted) == 0 {
		return fmt.Errorf("no node accepted block %d: %w", blk.Number, errors.Join(errs...))
	}
	for _, nd := range accepted {
		nd.imported = blk.Number
		waitTxIndex(ctx, nd)
	}
	n.appendBlock(blk)
	n.log.Debug("block committed", "number", blk.Number, "hash", blk.Hash, "txs", blk.TxCount, "nodes", len(accepted))
	return nil
}

// importBlock sends blk to nd with newPayload, then makes it the head.
func importBlock(ctx context.Context, nd *Node, blk Block, safe, final common.Hash) error {
	engine, _, ok := nd.drivers()
	if !ok {
		return ErrStopped
	}
	cctx, cancel := context.WithTimeout(ctx, callTimeout)
	defer cancel()
	st, err := engine.NewPayloadBlock(cctx, blk)
	if err != nil {
		return fmt.Errorf("new payload %d: %w", blk.Number, err)
	}
	if st.Status != StatusValid {
		return fmt.Errorf("new payload %d: status %s", blk.Number, st)
	}
	st, _, err = engine.ForkchoiceUpdated(cctx, blk.Hash, safe, final, nil)
	if err != nil {
		return fmt.Errorf("forkchoice to %d: %w", blk.Number, err)
	}
	if st.Status != StatusValid {
		return fmt.Errorf("forkchoice to %d: status %s", blk.Number, st)
	}
	return nil
}

// txIndexWait bounds how long a block import waits for a node's
// transaction indexer.
const txIndexWait = 2 * time.Second

// waitTxIndex waits until nd's transaction indexer has caught up. Until it
// has (on a fresh chain: until its first block is indexed), geth answers
// lookups of unknown transactions with "transaction indexing is in
// progress" instead of null.
func waitTxIndex(ctx context.Context, nd *Node) {
	deadline := time.Now().Add(txIndexWait)
	for !nd.txIndexDone() && time.Now().Before(deadline) && ctx.Err() == nil {
		time.Sleep(2 * time.Millisecond)
	}
}

// syncLocked replays every recorded block nd has not imported yet, in
// order; the caller holds mineMu.
func (n *Net) syncLocked(ctx context.Context, nd *Node) error {
	if h, ok := nd.chainHead(); ok && h < nd.imported {
		nd.imported = h
	}
	for {
		n.mu.Lock()
		head := uint64(len(n.blocks))
		if nd.imported >= head {
			n.mu.Unlock()
			return nil
		}
		blk := n.blocks[nd.imported]
		safe, final := n.safeFinalLocked(blk.Number)
		n.mu.Unlock()
		if err := importBlock(ctx, nd, blk, safe, final); err != nil {
			return fmt.Errorf("catching up: %w", err)
		}
		nd.imported = blk.Number
	}
}

// catchUp brings nd to the Net's head.
func (n *Net) catchUp(ctx context.Context, nd *Node) error {
	n.mineMu.Lock()
	defer n.mineMu.Unlock()
	if err := n.syncLocked(ctx, nd); err != nil {
		return fmt.Errorf("catching up %s: %w", nd.name, err)
	}
	return nil
}

// ImportBlock records a block produced outside the Net (for example by a
// test driving a gateway) on top of Head() and imports it on every running,
// unfrozen node, so later blocks build on it.
func (n *Net) ImportBlock(ctx context.Context, b Block) error {
	n.mineMu.Lock()
	defer n.mineMu.Unlock()
	if err := n.commit(ctx, b); err != nil {
		return fmt.Errorf("importing block: %w", err)
	}
	return nil
}

// gossip copies the transactions in every running node's pool into the
// builder's pool, standing in for p2p propagation, and returns how many
// transactions the builder can include now.
func (n *Net) gossip(builder *Node) int {
	var txs []*types.Transaction
	for _, nd := range n.nodes {
		if nd != builder {
			txs = append(txs, nd.poolTxs()...)
		}
	}
	return builder.addTxs(txs)
}

// poolTxs returns the pending and queued transactions of nd's pool.
func (nd *Node) poolTxs() []*types.Transaction {
	nd.mu.Lock()
	defer nd.mu.Unlock()
	if nd.backend == nil {
		return nil
	}
	pool := nd.backend.TxPool()
	if err := pool.Sync(); err != nil {
		return nil
	}
	pending, queued := pool.Content()
	var out []*types.Transaction
	for _, m := range []map[common.Address][]*types.Transaction{pending, queued} {
		for _, list := range m {
			out = append(out, list...)
		}
	}
	return out
}

// addTxs adds txs to nd's pool and returns its pending count.
func (nd *Node) addTxs(txs []*types.Transaction) int {
	nd.mu.Lock()
	defer nd.mu.Unlock()
	if nd.backend == nil {
		return 0
	}
	pool := nd.backend.TxPool()
	if len(txs) > 0 {
		pool.Add(txs, true)
	}
	if err := pool.Sync(); err != nil {
		return 0
	}
	pending, _ := pool.Stats()
	return pending
}

// offerTx adds tx to nd's pool without waiting, as a gossiped transaction.
func (nd *Node) offerTx(tx *types.Transaction) {
	nd.mu.Lock()
	defer nd.mu.Unlock()
	if nd.backend != nil {
		nd.backend.TxPool().Add([]*types.Transaction{tx}, false)
	}
}
