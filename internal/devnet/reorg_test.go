package devnet

import (
	"math/big"
	"testing"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/rpc"
)

// TestReorg: a reorg of depth 1 and of depth 3 leaves every node on the new
// branch, with new hashes at the replaced heights, the finalized block
// where it was, and a transaction of an orphaned block mined again.
func TestReorg(t *testing.T) {
	n := startNet(t, Config{Nodes: 2})
	mine(t, n, 6)
	for _, depth := range []int{1, 3} {
		hash, err := n.SendTransfer(testCtx(t), common.HexToAddress("0xb0b"), big.NewInt(1))
		if err != nil {
			t.Fatal(err)
		}
		head := mine(t, n, 1)
		finalBefore := finalized(t, n)
		orphaned, repl, err := n.Reorg(testCtx(t), depth)
		if err != nil {
			t.Fatalf("Reorg(%d): %v", depth, err)
		}
		if len(orphaned) != depth || len(repl) != depth || n.Head() != head {
			t.Fatalf("depth %d: %d orphaned, %d new, head %d (was %d)", depth, len(orphaned), len(repl), n.Head(), head)
		}
		for i := range orphaned {
			if orphaned[i].Number != repl[i].Number || orphaned[i].Hash == repl[i].Hash {
				t.Fatalf("block %d: orphan %s, replacement %s", orphaned[i].Number, orphaned[i].Hash, repl[i].Hash)
			}
		}
		for _, nd := range n.Nodes() {
			c := dial(t, nd.HTTPURL())
			for _, b := range repl {
				h, err := c.HeaderByNumber(testCtx(t), new(big.Int).SetUint64(b.Number))
				if err != nil || h.Hash() != b.Hash {
					t.Fatalf("%s block %d: %v %v, want %s", nd.Name(), b.Number, h.Hash(), err, b.Hash)
				}
			}
		}
		if f := finalized(t, n); f != finalBefore {
			t.Fatalf("finalized moved from %d to %d", finalBefore, f)
		}
		r, err := n.WaitMined(testCtx(t), hash)
		if err != nil {
			t.Fatal(err)
		}
		if r.BlockHash == orphaned[len(orphaned)-1].Hash {
			t.Fatalf("receipt still names the orphaned block %s", r.BlockHash)
		}
	}
	if _, _, err := n.Reorg(testCtx(t), MaxReorgDepth+1); err == nil {
		t.Fatal("a reorg below the finalized block was made")
	}
}

func finalized(t *testing.T, n *Net) uint64 {
	t.Helper()
	h, err := dial(t, n.Nodes()[0].HTTPURL()).HeaderByNumber(testCtx(t), big.NewInt(int64(rpc.FinalizedBlockNumber)))
	if err != nil {
		t.Fatal(err)
	}
	return h.Number.Uint64()
}
