package proxy_test

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/evmgate/evmgate/internal/balancer"
	"github.com/evmgate/evmgate/internal/cache"
	"github.com/evmgate/evmgate/internal/fakenode"
	"github.com/evmgate/evmgate/internal/jsonrpc"
	"github.com/evmgate/evmgate/internal/proxy"
	"github.com/evmgate/evmgate/internal/upstream"
)

// cachedNet serves network "c" over the fake node f with a cache whose
// finalized block is final.
func cachedNet(t testing.TB, f *fakenode.Node, final uint64) (*proxy.Handler, *proxy.Network, *cache.Network) {
	t.Helper()
	n := healthyNode(f.URL(), "a", time.Millisecond)
	t.Cleanup(n.Close)
	store, err := cache.New(cache.Config{MaxBytes: 1 << 20, MaxItemBytes: 64 << 10, Dedup: true}, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(store.Close)
	cn := store.Network("c", chainAt(final))
	net := &proxy.Network{Name: "c", Pool: balancer.NewPool(balancer.Rules{NetworkBlockDiff: 5}, []*upstream.Node{n}),
		Health: observer{}, Retries: 0, TryTimeout: time.Minute, Cache: cn}
	opts := proxy.Options{MaxBodyBytes: 1 << 20, MaxBatchSize: 100, RequestTimeout: time.Minute}
	return proxy.New(opts, []*proxy.Network{net}, slog.New(slog.DiscardHandler), nil), net, cn
}

// testChain is a network's chain as its probes would report it; every
// node's finalized block is nodeFinal, or the network's when it is 0.
type testChain struct{ id, final, nodeFinal uint64 }

func (c testChain) ChainID() (uint64, bool)   { return c.id, c.id != 0 }
func (c testChain) Finalized() (uint64, bool) { return c.final, true }
func (c testChain) NodeFinalized(*upstream.Node) (uint64, bool) {
	if c.nodeFinal != 0 {
		return c.nodeFinal, true
	}
	return c.final, true
}

// chainAt is chain 1 (healthyNode's) with final as its finalized block.
func chainAt(final uint64) testChain { return testChain{id: 1, final: final} }

func newFake(t testing.TB) *fakenode.Node {
	t.Helper()
	f, err := fakenode.Start(fakenode.Options{Name: "fake", ChainID: 1, Head: 1000})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(f.Close)
	return f
}

func balanceCall(id int) []byte {
	return fmt.Appendf(nil, `{"jsonrpc":"2.0","id":%d,"method":"eth_getBalance","params":["0x00000000219ab540356cbb839cbe05303d7705fa","latest"]}`, id)
}

// waitFor polls cond until it holds; the test's deadline bounds it.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for !cond() {
		if t.Context().Err() != nil {
			t.Fatalf("gave up waiting for %s", what)
		}
		runtime.Gosched()
		time.Sleep(time.Millisecond)
	}
}

// TestDedupOneUpstreamCall: 200 identical reads in flight at once make one
// upstream call, and each client gets the answer with its own id.
func TestDedupOneUpstreamCall(t *testing.T) {
	f := newFake(t)
	h, net, cn := cachedNet(t, f, 0)
	f.Hold("eth_getBalance")
	const n = 200
	out := make([][]byte, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { out[i] = h.Do(context.Background(), net, balanceCall(i), proxy.High, "") })
	}
	waitFor(t, "199 followers", func() bool { return f.Requests() == 1 && cn.Waiting() == n-1 })
	f.Release("eth_getBalance")
	wg.Wait()
	if got := f.Calls("eth_getBalance"); got != 1 {
		t.Fatalf("upstream calls: %d, want 1", got)
	}
	for i, b := range out {
		want := fmt.Sprintf(`{"jsonrpc":"2.0","id":%d,"result":"0xde0b6b3a7640000"}`, i)
		if string(b) != want {
			t.Fatalf("client %d got %s, want %s", i, b, want)
		}
	}
	if cn.InFlight() != 0 {
		t.Fatalf("%d flights left over", cn.InFlight())
	}
}

// TestDedupFollowerDeadline: a follower whose own deadline comes before the
// leader's answer gets its timeout then, while the leader still waits.
func TestDedupFollowerDeadline(t *testing.T) {
	f := newFake(t)
	h, net, cn := cachedNet(t, f, 0)
	f.Hold("eth_getBalance")
	leaderDone := make(chan []byte, 1)
	go func() { leaderDone <- h.Do(context.Background(), net, balanceCall(1), proxy.High, "") }()
	waitFor(t, "the leader's upstream call", func() bool { return f.Requests() == 1 })

	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	got := h.Do(ctx, net, balanceCall(2), proxy.High, "")
	e := jsonrpc.ErrorOf(got)
	if e == nil || e.Code != jsonrpc.CodeTimeout || !bytes.Contains(got, []byte(`"id":2`)) {
		t.Fatalf("follower got %s, want its own timeout error", got)
	}
	select {
	case b := <-leaderDone:
		t.Fatalf("the leader answered (%s) before the follower's timeout was checked", b)
	default:
	}
	if cn.Waiting() != 0 {
		t.Fatalf("%d followers still waiting", cn.Waiting())
	}
	f.Release("eth_getBalance")
	if b := <-leaderDone; jsonrpc.ErrorOf(b) != nil {
		t.Fatalf("leader got %s", b)
	}
}

// TestDedupLeaderFailureNotCopied: when the leader's call fails (its own
// deadline passed, or its node did not answer in rpc_timeout), its
// followers are not failed with it: one of them asks a node again and the
// others share that answer.
func TestDedupLeaderFailureNotCopied(t *testing.T) {
	for _, tc := range []struct {
		name       string
		leaderWait time.Duration // the leader's own deadline
		tryTimeout time.Duration // the node's rpc_timeout
	}{
		{"leader deadline", 100 * time.Millisecond, time.Minute},
		{"node timeout", time.Minute, 3 * time.Second},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFake(t)
			h, net, cn := cachedNet(t, f, 0)
			net.TryTimeout = tc.tryTimeout
			f.Hold("eth_getBalance")
			lctx, lcancel := context.WithTimeout(context.Background(), tc.leaderWait)
			defer lcancel()
			leaderDone := make(chan []byte, 1)
			go func() { leaderDone <- h.Do(lctx, net, balanceCall(0), proxy.High, "") }()
			waitFor(t, "the leader's upstream call", func() bool { return f.Requests() == 1 })
			const n = 20
			out := make([][]byte, n)
			var wg sync.WaitGroup
			for i := 1; i < n; i++ {
				wg.Go(func() { out[i] = h.Do(context.Background(), net, balanceCall(i), proxy.High, "") })
			}
			waitFor(t, "followers", func() bool { return cn.Waiting() == n-1 })
			if e := jsonrpc.ErrorOf(<-leaderDone); e == nil {
				t.Fatalf("the leader's call did not fail: %v", e)
			}
			waitFor(t, "a new leader's upstream call", func() bool { return f.Requests() == 2 })
			f.Release("eth_getBalance")
			wg.Wait()
			for i := 1; i < n; i++ {
				want := fmt.Sprintf(`{"jsonrpc":"2.0","id":%d,"result":"0xde0b6b3a7640000"}`, i)
				if string(out[i]) != want {
					t.Fatalf("follower %d got %s, want %s", i, out[i], want)
				}
			}
			if got := f.Requests(); got != 2 {
				t.Fatalf("upstream calls: %d, want 2 (the failed leader's and one more)", got)
			}
		})
	}
}

// TestDedupNotForWrites: eth_sendRawTransaction is never shared.
func TestDedupNotForWrites(t *testing.T) {
	f := newFake(t)
	h, net, _ := cachedNet(t, f, 0)
	body := []byte(`{"jsonrpc":"2.0","id":1,"method":"eth_sendRawTransaction","params":["0x01"]}`)
	var wg sync.WaitGroup
	for range 5 {
		wg.Go(func() { h.Do(context.Background(), net, body, proxy.High, "") })
	}
	wg.Wait()
	if got := f.Calls("eth_sendRawTransaction"); got != 5 {
		t.Fatalf("upstream calls: %d, want 5", got)
	}
}

// TestCacheOverDo: the path other transports (WebSocket) take keeps and
// serves answers too; a batch is served partly from the cache, in order.
func TestCacheOverDo(t *testing.T) {
	f := newFake(t)
	h, net, _ := cachedNet(t, f, 900)
	call := func(id int) []byte {
		return fmt.Appendf(nil, `{"jsonrpc":"2.0","id":%d,"method":"eth_getBalance","params":["0x00000000219AB540356cbb839cbe05303d7705fa","0x10"]}`, id)
	}
	first := h.Do(context.Background(), net, call(1), proxy.High, "")
	second := h.Do(context.Background(), net, call(2), proxy.High, "")
	if got := f.Calls("eth_getBalance"); got != 1 {
		t.Fatalf("upstream calls: %d, want 1", got)
	}
	if want := bytes.Replace(first, []byte(`"id":1`), []byte(`"id":2`), 1); !bytes.Equal(second, want) {
		t.Fatalf("hit %s, want %s", second, want)
	}
	batch := []byte(`[{"jsonrpc":"2.0","id":"a","method":"eth_chainId","params":[]},` + string(call(7)) + `,` +
		`{"jsonrpc":"2.0","id":"b","method":"eth_getBalance","params":["0x00000000219ab540356cbb839cbe05303d7705fa","0x11"]}]`)
	got := h.Do(context.Background(), net, batch, proxy.High, "")
	want := `[{"jsonrpc":"2.0","id":"a","result":"0x1"},{"jsonrpc":"2.0","id":7,"result":"0xde0b6b3a7640000"},` +
		`{"jsonrpc":"2.0","id":"b","result":"0xde0b6b3a7640000"}]`
	if string(got) != want {
		t.Fatalf("batch answer %s, want %s", got, want)
	}
	if got := f.Calls("eth_getBalance"); got != 2 {
		t.Fatalf("upstream eth_getBalance calls: %d, want 2", got)
	}
	// A block above the finalized one is never kept.
	late := []byte(`{"jsonrpc":"2.0","id":1,"method":"eth_getBalance","params":["0x00000000219ab540356cbb839cbe05303d7705fa","0x3e8"]}`)
	h.Do(context.Background(), net, late, proxy.High, "")
	h.Do(context.Background(), net, late, proxy.High, "")
	if got := f.Calls("eth_getBalance"); got != 4 {
		t.Fatalf("upstream eth_getBalance calls: %d, want 4", got)
	}
}
