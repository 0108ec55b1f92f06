package proxy_test

import (
	"context"
	"strings"
	"sync"
	"testing"

	"github.com/evmgate/evmgate/internal/logsplit"
	"github.com/evmgate/evmgate/internal/proxy"
)

// TestLogsChunkShared: two eth_getLogs calls over overlapping ranges, in
// flight together, share the aligned chunk they both cover: the node is
// asked for it once, and both calls get its answer.
func TestLogsChunkShared(t *testing.T) {
	f := newFake(t)
	h, net, cn := cachedNet(t, f, 0) // nothing finalized: shared in flight, never kept
	net.Logs = logsplit.New("c", logsplit.Config{Split: true, ChunkBlocks: 100, Concurrency: 4}, nil, nil)
	// Every chunk is answered: a chunk that failed would end its call's
	// other chunks, and a follower of one of those asks by itself.
	f.SetResult("eth_getLogs", "[]")
	f.Hold("eth_getLogs")
	t.Cleanup(func() { f.Release("eth_getLogs") }) // before the node closes, should the test fail
	call := func(to string) []byte {
		return []byte(`{"jsonrpc":"2.0","id":1,"method":"eth_getLogs","params":[{"fromBlock":"0x0","toBlock":"` + to + `"}]}`)
	}
	out := make([][]byte, 2)
	var wg sync.WaitGroup
	wg.Go(func() { out[0] = h.Do(context.Background(), net, call("0xc7"), proxy.High, "") }) // 0-99, 100-199
	waitFor(t, "the first call's two chunks at the node", func() bool { return f.Requests() == 2 })
	wg.Go(func() { out[1] = h.Do(context.Background(), net, call("0x95"), proxy.High, "") }) // 0-99 shared, 100-149
	waitFor(t, "the second call's own chunk at the node and its shared one waiting", func() bool {
		return f.Requests() == 3 && cn.Waiting() == 1
	})
	f.Release("eth_getLogs")
	wg.Wait()
	if got := f.Calls("eth_getLogs"); got != 3 {
		t.Fatalf("the node got %d eth_getLogs calls, want 3 (blocks 0-99 once)", got)
	}
	for i, o := range out {
		if !strings.Contains(string(o), `"id":1,"result":[]`) {
			t.Fatalf("call %d: %s", i, o)
		}
	}
}
