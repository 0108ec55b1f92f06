package devnet

import (
	"context"
	"encoding/binary"
	"fmt"
	"slices"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/crypto"
)

// MaxReorgDepth is the deepest reorg a Net makes: the finalized block trails
// the head by this much and is never reorganised.
const MaxReorgDepth = finalDepth

// Reorg replaces the newest depth blocks with as many sibling blocks, as a
// consensus client switching forks would: the first is built through the
// Engine API on the same parent as the first replaced block (with another
// fee recipient, so every hash differs), each is imported on every running,
// unfrozen node with newPayload, and forkchoiceUpdated moves their heads to
// the new branch. The finalized block stays where it was. Transactions of the
// orphaned blocks return to the nodes' pools and may be mined again in the
// new branch. It returns the orphaned blocks and their replacements, oldest
// first.
func (n *Net) Reorg(ctx context.Context, depth int) (orphaned, replacements []Block, err error) {
	n.mineMu.Lock()
	defer n.mineMu.Unlock()
	if n.isClosed() {
		return nil, nil, ErrClosed
	}
	n.mu.Lock()
	head := uint64(len(n.blocks))
	if depth < 1 || depth > MaxReorgDepth || uint64(depth) > head {
		n.mu.Unlock()
		return nil, nil, fmt.Errorf("reorg of depth %d at head %d: depth must be 1 to %d and at most the head", depth, head, MaxReorgDepth)
	}
	base := head - uint64(depth)
	if head > finalDepth {
		n.finalFloor = max(n.finalFloor, head-finalDepth)
	}
	orphaned = slices.Clone(n.blocks[base:])
	n.blocks = n.blocks[:base]
	n.branch++
	n.mu.Unlock()
	for _, nd := range n.nodes {
		nd.imported = min(nd.imported, base)
	}
	for range depth {
		if _, err := n.mineLocked(ctx); err != nil {
			return orphaned, nil, fmt.Errorf("reorg of depth %d: %w", depth, err)
		}
	}
	n.mu.Lock()
	replacements = slices.Clone(n.blocks[base:])
	n.mu.Unlock()
	return orphaned, replacements, nil
}

// recipientLocked is the fee recipient of the current branch; the caller
// holds mu.
func (n *Net) recipientLocked() common.Address {
	if n.branch == 0 {
		return feeRecipient
	}
	var buf [8]byte
	binary.BigEndian.PutUint64(buf[:], n.branch)
	return common.BytesToAddress(crypto.Keccak256([]byte("evmgate devnet branch"), buf[:]))
}
