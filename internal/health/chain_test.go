package health

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/evmgate/evmgate/internal/balancer"
	"github.com/evmgate/evmgate/internal/fakenode"
	"github.com/evmgate/evmgate/internal/upstream"
)

func fakeOn(t *testing.T, chain uint64) *upstream.Node {
	t.Helper()
	f, err := fakenode.Start(fakenode.Options{Name: "f", ChainID: chain, Head: 100})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(f.Close)
	n := upstream.New(upstream.Spec{Name: "n", Network: "net", URL: f.URL(), Timeout: 10 * time.Second})
	t.Cleanup(n.Close)
	return n
}

// TestChainIDFollowsNodes: without chain_id the network's chain is the one
// its nodes report, unknown before any did and again once every node that
// did is gone; a new node set's answer sets it anew. With chain_id it is
// that id from the start.
func TestChainIDFollowsNodes(t *testing.T) {
	t.Parallel()
	pool := balancer.NewPool(balancer.Rules{}, []*upstream.Node{fakeOn(t, 4242)})
	m := New(Settings{Network: "net", LocalInterval: time.Hour, Timeout: 10 * time.Second}, pool, slog.New(slog.DiscardHandler), nil)
	t.Cleanup(m.Close)
	if id, ok := m.ChainID(); ok {
		t.Fatalf("chain %d known before any node answered", id)
	}
	m.Start(context.Background())
	if id, ok := m.ChainID(); !ok || id != 4242 {
		t.Fatalf("chain %d %v after the start, want 4242", id, ok)
	}

	pool.SetNodes(nil)
	m.Sync()
	if id, ok := m.ChainID(); ok {
		t.Fatalf("chain %d still known once its nodes are gone", id)
	}
	next := fakeOn(t, 1337)
	pool.SetNodes([]*upstream.Node{next})
	m.Sync() // its prober asks at once too
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := m.checkChain(ctx, next); err != nil {
		t.Fatal(err)
	}
	if id, ok := m.ChainID(); !ok || id != 1337 {
		t.Fatalf("chain %d %v after the new node answered, want 1337", id, ok)
	}

	set := New(Settings{Network: "net", ChainID: 10}, pool, slog.New(slog.DiscardHandler), nil)
	t.Cleanup(set.Close)
	if id, ok := set.ChainID(); !ok || id != 10 {
		t.Fatalf("chain_id 10: chain %d %v before any probe", id, ok)
	}
}
