package cache

import (
	"context"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/evmgate/evmgate/internal/redistest"
	"github.com/evmgate/evmgate/internal/upstream"
	"github.com/redis/go-redis/v9"
)

// movingChain is a network whose chain changes under it, as after a reload
// that points it at another chain's nodes (0: not known yet).
type movingChain struct{ id atomic.Uint64 }

func (c *movingChain) ChainID() (uint64, bool)   { id := c.id.Load(); return id, id != 0 }
func (c *movingChain) Finalized() (uint64, bool) { return 1000, true }
func (c *movingChain) NodeFinalized(*upstream.Node) (uint64, bool) {
	return 1000, true
}

// TestChainMovesKeys: what a network kept on one chain is never answered
// once it serves another, nor kept or answered while its chain is not
// known; back on the first chain, its answers are found again (they are
// still that chain's).
func TestChainMovesKeys(t *testing.T) {
	t.Parallel()
	ch := &movingChain{}
	ch.id.Store(4242)
	n := newStore(t, 1<<20).Network("net", ch)
	old, next := onChain(4242), onChain(1337)
	chainID := call(t, `{"jsonrpc":"2.0","id":1,"method":"eth_chainId","params":[]}`)
	block := call(t, `{"jsonrpc":"2.0","id":1,"method":"eth_getBlockByNumber","params":["0x5",false]}`)
	put := func(c *Call, resp string) {
		t.Helper()
		if !n.Put(c, []byte(resp), old) {
			t.Fatalf("%s not kept on chain 4242", resp)
		}
	}
	cc := n.Prepare(chainID)
	put(&cc, `{"jsonrpc":"2.0","id":1,"result":"0x1092"}`)
	cb := n.Prepare(block)
	put(&cb, `{"jsonrpc":"2.0","id":1,"result":{"number":"0x5","hash":"0x4242"}}`)

	ch.id.Store(0) // every node replaced: the new ones not checked yet
	cc = n.Prepare(chainID)
	if cc.Cacheable() {
		t.Fatal("eth_chainId may be answered from the cache while the chain is not known")
	}
	if _, ok := n.Get(&cc, chainID.ID, nil); ok {
		t.Fatal("eth_chainId answered from the cache while the chain is not known")
	}
	if !cc.Shared() {
		t.Fatal("identical calls in flight no longer share one answer while the chain is not known")
	}

	ch.id.Store(1337)
	cc, cb = n.Prepare(chainID), n.Prepare(block)
	if got, ok := n.Get(&cc, chainID.ID, nil); ok {
		t.Fatalf("on chain 1337, eth_chainId answered from the cache: %s", got)
	}
	if got, ok := n.Get(&cb, block.ID, nil); ok {
		t.Fatalf("on chain 1337, block 5 answered from chain 4242's: %s", got)
	}
	// An answer of a node still on the old chain (or not yet checked) is
	// not kept under the new chain.
	if n.Put(&cc, []byte(`{"jsonrpc":"2.0","id":1,"result":"0x1092"}`), old) {
		t.Fatal("a chain-4242 node's answer kept under chain 1337")
	}
	if n.Put(&cc, []byte(`{"jsonrpc":"2.0","id":1,"result":"0x1092"}`), onChain(0)) {
		t.Fatal("the answer of a node whose chain is not known was kept")
	}
	if n.Put(&cc, []byte(`{"jsonrpc":"2.0","id":1,"result":"0x1092"}`), nil) {
		t.Fatal("an answer of no one node was kept")
	}
	if !n.Put(&cc, []byte(`{"jsonrpc":"2.0","id":1,"result":"0x539"}`), next) {
		t.Fatal("the chain-1337 node's answer not kept")
	}
	if got, ok := n.Get(&cc, chainID.ID, nil); !ok || string(got) != `{"jsonrpc":"2.0","id":1,"result":"0x539"}` {
		t.Fatalf("on chain 1337, eth_chainId from the cache: %s %v", got, ok)
	}

	ch.id.Store(4242)
	cb = n.Prepare(block)
	if got, ok := n.Get(&cb, block.ID, nil); !ok || !strings.Contains(string(got), `"0x4242"`) {
		t.Fatalf("back on chain 4242, block 5: %s %v", got, ok)
	}
}

// TestRedisChainsApart: two replicas share Redis and a network name, on two
// chains: neither is answered with the other's entries; a third on the
// first one's chain is.
func TestRedisChainsApart(t *testing.T) {
	t.Parallel()
	srv := redistest.New(t)
	srv.Start()
	a, _ := redisStore(t, srv.URL(), time.Hour, 1<<20)
	b, _ := redisStore(t, srv.URL(), time.Hour, 1<<20)
	c, _ := redisStore(t, srv.URL(), time.Hour, 1<<20)
	na := a.Network("net", testChain{id: 1337, final: 1000})
	nb := b.Network("net", testChain{id: 4242, final: 1000})
	nc := c.Network("net", testChain{id: 1337, final: 1000})
	chainID := call(t, `{"jsonrpc":"2.0","id":1,"method":"eth_chainId","params":[]}`)
	ca := na.Prepare(chainID)
	if !na.Put(&ca, []byte(`{"jsonrpc":"2.0","id":1,"result":"0x539"}`), onChain(1337)) {
		t.Fatal("not kept")
	}
	flush(t, a)
	rdb := redis.NewClient(&redis.Options{Addr: srv.Addr()})
	defer rdb.Close()
	keys, err := rdb.Keys(context.Background(), "t:e:net\x001337\x00eth_chainId*").Result()
	if err != nil || len(keys) != 1 {
		t.Fatalf("Redis keys of chain 1337's eth_chainId: %q %v", keys, err)
	}
	cb := nb.Prepare(chainID)
	if got, ok := nb.Get(&cb, chainID.ID, nil); ok {
		t.Fatalf("the replica on chain 4242 answered %s from Redis", got)
	}
	if redisResult(b, "miss") != 1 {
		t.Fatalf("the replica on chain 4242: %v Redis misses, want 1", redisResult(b, "miss"))
	}
	cc := nc.Prepare(chainID)
	if got, ok := nc.Get(&cc, chainID.ID, nil); !ok || string(got) != `{"jsonrpc":"2.0","id":1,"result":"0x539"}` {
		t.Fatalf("the replica on chain 1337: %s %v, want chain 1337's answer from Redis", got, ok)
	}
}
