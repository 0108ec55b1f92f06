package cache

import (
	"fmt"
	"testing"

	"github.com/evmgate/evmgate/internal/upstream"
)

// TestNodeFinality: an answer that finality makes permanent is kept only
// when its blocks are final for the node that gave it as well as for the
// network: a node on a fork of its own (finalized 84 while the network's is
// 90) is not kept past its own finalized block, and a node that has not
// told its finalized block is not kept at all; answers that are the same
// on any block (eth_chainId) are kept from either.
func TestNodeFinality(t *testing.T) {
	t.Parallel()
	good, fork, unknown := onChain(1), onChain(1), onChain(1)
	n := newStore(t, 1<<20).Network("main", testChain{id: 1, final: 90,
		nodes: map[*upstream.Node]uint64{good: 90, fork: 84}})
	hash := fmt.Sprintf(`"0x%064x"`, 7)
	for _, tc := range []struct {
		name, method, params, result string
		kept                         map[*upstream.Node]bool
	}{
		{"block past the node's finalized", "eth_getBlockByNumber", `["0x56",false]`, `{"number":"0x56"}`,
			map[*upstream.Node]bool{good: true, fork: false, unknown: false}},
		{"block at the node's finalized", "eth_getBlockByNumber", `["0x54",false]`, `{"number":"0x54"}`,
			map[*upstream.Node]bool{good: true, fork: true, unknown: false}},
		{"call at a block past it (EIP-1898)", "eth_getBalance", `["0x00000000219ab540356cbb839cbe05303d7705fa",{"blockNumber":"0x58"}]`, `"0x1"`,
			map[*upstream.Node]bool{good: true, fork: false, unknown: false}},
		{"logs ending past it", "eth_getLogs", `[{"fromBlock":"0x50","toBlock":"0x59"}]`, `[]`,
			map[*upstream.Node]bool{good: true, fork: false, unknown: false}},
		{"logs ending at it", "eth_getLogs", `[{"fromBlock":"0x50","toBlock":"0x54"}]`, `[]`,
			map[*upstream.Node]bool{good: true, fork: true, unknown: false}},
		{"by hash, held past it", "eth_getTransactionByHash", `[` + hash + `]`, `{"blockNumber":"0x58"}`,
			map[*upstream.Node]bool{good: true, fork: false, unknown: false}},
		{"chain id", "eth_chainId", `[]`, `"0x1"`,
			map[*upstream.Node]bool{good: true, fork: true, unknown: true}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for from, want := range tc.kept {
				c := call(t, fmt.Sprintf(`{"jsonrpc":"2.0","id":1,"method":%q,"params":%s}`, tc.method, tc.params))
				cc := n.Prepare(c)
				if !cc.Cacheable() {
					t.Fatal("not cacheable for the network")
				}
				who := map[*upstream.Node]string{good: "a node finalized at 90", fork: "a node finalized at 84", unknown: "a node of unknown finality"}[from]
				if got := n.Put(&cc, fmt.Appendf(nil, `{"jsonrpc":"2.0","id":1,"result":%s}`, tc.result), from); got != want {
					t.Fatalf("answer of %s kept: %v, want %v", who, got, want)
				}
			}
		})
	}
}
