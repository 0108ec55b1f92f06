package proxy_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/evmgate/evmgate/internal/cache"
	"github.com/evmgate/evmgate/internal/logsplit"
	"github.com/evmgate/evmgate/internal/proxy"
)

// TestCacheKeepsOnlyTheNetworksChain: an answer is kept only when the node
// that gave it reported the chain the network serves (here 1): a node on
// another chain, or one not checked yet, is asked every time, by single
// calls, batches and eth_getLogs, whole or in chunks.
func TestCacheKeepsOnlyTheNetworksChain(t *testing.T) {
	f := newFake(t)
	h, net, _ := cachedNet(t, f, 900)
	net.Logs = logsplit.New("c", logsplit.Config{Split: true, ChunkBlocks: 100, Concurrency: 2}, nil, nil)
	f.SetResult("eth_getLogs", "[]")
	node := net.Pool.Nodes()[0]
	block := func(id int) []byte {
		return fmt.Appendf(nil, `{"jsonrpc":"2.0","id":%d,"method":"eth_getBlockByNumber","params":["0x5",false]}`, id)
	}
	batch := []byte(`[{"jsonrpc":"2.0","id":1,"method":"eth_chainId","params":[]},` + string(block(2)) + `]`)
	logs := func(to string) []byte {
		return []byte(`{"jsonrpc":"2.0","id":1,"method":"eth_getLogs","params":[{"fromBlock":"0x0","toBlock":"` + to + `"}]}`)
	}
	ask := func() {
		for _, body := range [][]byte{block(1), batch, logs("0x10"), logs("0xc7")} {
			h.Do(context.Background(), net, body, proxy.High, "")
		}
	}
	calls := func() [3]int64 {
		return [3]int64{f.Calls("eth_getBlockByNumber"), f.Calls("eth_chainId"), f.Calls("eth_getLogs")}
	}

	for _, id := range []uint64{7, 0} {
		node.SetChainID(id)
		before := calls()
		ask()
		ask()
		got := calls()
		// Each round: the block twice (alone, in the batch), eth_chainId
		// once, eth_getLogs once whole and in two chunks.
		if want := [3]int64{before[0] + 4, before[1] + 2, before[2] + 6}; got != want {
			t.Fatalf("node on chain %d: upstream calls (block, chainId, logs) %v, want %v: an answer was kept", id, got, want)
		}
	}

	node.SetChainID(1)
	before := calls()
	ask()
	ask()
	// The first round keeps: the block once (the batch finds it), eth_chainId,
	// the whole eth_getLogs and both chunks; the second round asks nothing.
	if got, want := calls(), [3]int64{before[0] + 1, before[1] + 1, before[2] + 3}; got != want {
		t.Fatalf("node on chain 1: upstream calls (block, chainId, logs) %v, want %v", got, want)
	}
}

// TestCacheKeepsOnlyNodesFinalBlocks: the node that answers names block 50
// as finalized while the network's is 900 (a node on a fork of its own past
// 50, say): its answers over blocks past 50 are not kept, by single calls,
// batches or eth_getLogs chunks; those at or below 50 are.
func TestCacheKeepsOnlyNodesFinalBlocks(t *testing.T) {
	f := newFake(t)
	h, net, _ := cachedNet(t, f, 900)
	store, err := cache.New(cache.Config{MaxBytes: 1 << 20, MaxItemBytes: 64 << 10, Dedup: true}, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(store.Close)
	net.Cache = store.Network("c", testChain{id: 1, final: 900, nodeFinal: 50})
	net.Logs = logsplit.New("c", logsplit.Config{Split: true, ChunkBlocks: 100, Concurrency: 2}, nil, nil)
	f.SetResult("eth_getLogs", "[]")
	block := func(num string) string {
		return `{"jsonrpc":"2.0","id":1,"method":"eth_getBlockByNumber","params":["` + num + `",false]}`
	}
	logs := func(from, to string) string {
		return `{"jsonrpc":"2.0","id":1,"method":"eth_getLogs","params":[{"fromBlock":"` + from + `","toBlock":"` + to + `"}]}`
	}
	for _, tc := range []struct {
		name, method, body string
		kept               bool
		calls              int64 // upstream calls of method per round
	}{
		{"block past the node's finalized", "eth_getBlockByNumber", block("0x40"), false, 1},
		{"block at it", "eth_getBlockByNumber", block("0x32"), true, 1},
		{"batch past it", "eth_getBlockByNumber", "[" + block("0x41") + "]", false, 1},
		{"batch at it", "eth_getBlockByNumber", "[" + block("0x31") + "]", true, 1},
		{"logs whole, past it", "eth_getLogs", logs("0x0", "0x40"), false, 1},
		{"logs whole, at it", "eth_getLogs", logs("0x0", "0x32"), true, 1},
		{"logs in chunks past it", "eth_getLogs", logs("0x0", "0xc7"), false, 2},
	} {
		before := f.Calls(tc.method)
		h.Do(context.Background(), net, []byte(tc.body), proxy.High, "")
		h.Do(context.Background(), net, []byte(tc.body), proxy.High, "")
		want := before + 2*tc.calls
		if tc.kept {
			want = before + tc.calls
		}
		if got := f.Calls(tc.method); got != want {
			t.Fatalf("%s: %d upstream %s calls, want %d", tc.name, got-before, tc.method, want-before)
		}
	}
}
