package devnet

import (
	"bytes"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/core/types"
)

func TestProducerAdvancesHead(t *testing.T) {
	n := startNet(t, Config{BlockPeriod: 20 * time.Millisecond})
	ctx := testCtx(t)
	if err := n.WaitHead(ctx, 3); err != nil {
		t.Fatalf("producer: %v", err)
	}
	nd := n.Nodes()[0]
	if err := nd.Stop(); err != nil {
		t.Fatalf("Stop: %v", err)
	}
	stoppedAt := n.Head()
	if err := n.WaitHead(ctx, stoppedAt+3); err != nil {
		t.Fatalf("producer with node0 stopped: %v", err)
	}
	if err := nd.Restart(ctx); err != nil {
		t.Fatalf("Restart: %v", err)
	}
	if got := blockNumber(t, nd); got < stoppedAt+3 {
		t.Fatalf("restarted node at %d, want >= %d", got, stoppedAt+3)
	}
}

// TestProducerSurvivesNodeChurn stops and restarts nodes while the producer
// runs; it must keep producing and every node must end at the head.
func TestProducerSurvivesNodeChurn(t *testing.T) {
	n := startNet(t, Config{BlockPeriod: 5 * time.Millisecond})
	ctx := testCtx(t)
	for _, nd := range n.Nodes() {
		if err := nd.Stop(); err != nil {
			t.Fatalf("Stop %s: %v", nd.Name(), err)
		}
		if err := n.WaitHead(ctx, n.Head()+1); err != nil {
			t.Fatalf("producer stalled with %s stopped: %v", nd.Name(), err)
		}
		if err := nd.Restart(ctx); err != nil {
			t.Fatalf("Restart %s: %v", nd.Name(), err)
		}
	}
	target := n.Head() + 2
	if err := n.WaitHead(ctx, target); err != nil {
		t.Fatalf("producer after churn: %v", err)
	}
	for _, nd := range n.Nodes() {
		if got := blockNumber(t, nd); got < target {
			t.Fatalf("%s at %d, want >= %d", nd.Name(), got, target)
		}
	}
}

func TestWSSubscribeNewHeads(t *testing.T) {
	n := startNet(t, Config{Nodes: 1})
	c := dial(t, n.Nodes()[0].WSURL())
	heads := make(chan *types.Header, 4)
	sub, err := c.SubscribeNewHead(testCtx(t), heads)
	if err != nil {
		t.Fatalf("eth_subscribe newHeads: %v", err)
	}
	defer sub.Unsubscribe()
	num := mine(t, n, 1)
	select {
	case h := <-heads:
		if h.Number.Uint64() != num || h.Hash() != n.HeadHash() {
			t.Fatalf("got head %d %s, want %d %s", h.Number, h.Hash(), num, n.HeadHash())
		}
	case err := <-sub.Err():
		t.Fatalf("subscription: %v", err)
	case <-testCtx(t).Done():
		t.Fatal("no newHeads notification")
	}
}

func TestDriverTamperedPayloadsAreInvalid(t *testing.T) {
	n := startNet(t, Config{Nodes: 2})
	ctx := testCtx(t)
	mine(t, n, 2)
	builder, other := n.Nodes()[0].Engine(), n.Nodes()[1].Engine()
	attrs := n.NextAttributes()
	head, safe, final := n.Forkchoice()
	st, id, err := builder.ForkchoiceUpdated(ctx, head, safe, final, attrs)
	if err != nil || st.Status != StatusValid || !strings.HasPrefix(id, "0x03") {
		t.Fatalf("forkchoiceUpdated: %v %s id %q", err, st, id)
	}
	payload, env, err := builder.GetPayload(ctx, id)
	if err != nil {
		t.Fatalf("GetPayload: %v", err)
	}

	badRoot, err := TamperStateRoot(payload)
	if err != nil {
		t.Fatalf("TamperStateRoot: %v", err)
	}
	st, err = other.NewPayload(ctx, badRoot, nil, attrs.ParentBeaconBlockRoot, nil)
	if err != nil || st.Status != StatusInvalid || st.LatestValidHash == nil || *st.LatestValidHash != head ||
		st.ValidationError == nil || !strings.Contains(*st.ValidationError, "merkle root") {
		t.Fatalf("tampered state root: %v %s, want INVALID lvh=%s merkle root", err, st, head)
	}

	badHash, err := TamperBlockHash(payload)
	if err != nil {
		t.Fatalf("TamperBlockHash: %v", err)
	}
	st, err = other.NewPayload(ctx, badHash, nil, attrs.ParentBeaconBlockRoot, nil)
	if err != nil || st.Status != StatusInvalid || st.ValidationError == nil ||
		!strings.Contains(*st.ValidationError, "blockhash mismatch") {
		t.Fatalf("tampered block hash: %v %s, want INVALID blockhash mismatch", err, st)
	}

	blk, err := NewBlock(payload, env, attrs.ParentBeaconBlockRoot)
	if err != nil {
		t.Fatalf("NewBlock: %v", err)
	}
	if st, err = other.NewPayloadBlock(ctx, blk); err != nil || st.Status != StatusValid {
		t.Fatalf("honest payload: %v %s", err, st)
	}
	if err := n.ImportBlock(ctx, blk); err != nil {
		t.Fatalf("ImportBlock: %v", err)
	}
	for _, nd := range n.Nodes() {
		if got := blockNumber(t, nd); got != blk.Number {
			t.Fatalf("%s at %d, want %d", nd.Name(), got, blk.Number)
		}
	}
	if got := mine(t, n, 1); got != blk.Number+1 {
		t.Fatalf("mined %d after the imported block, want %d", got, blk.Number+1)
	}
}

func TestTamperStateRootRefusesForeignBeaconRoot(t *testing.T) {
	n := startNet(t, Config{Nodes: 1})
	mine(t, n, 1)
	blk, _ := n.Block(1)
	if _, err := TamperStateRootWith(blk.Payload, blk.ParentHash, nil); err == nil {
		t.Fatal("TamperStateRootWith accepted a beacon root the payload was not built with")
	}
	if _, err := TamperStateRootWith(blk.Payload, blk.BeaconRoot, blk.Requests); err != nil {
		t.Fatalf("TamperStateRootWith with the real beacon root: %v", err)
	}
}

func TestDifferentChainAnswersSyncing(t *testing.T) {
	n := startNet(t, Config{Nodes: 1})
	ctx := testCtx(t)
	other, err := StartDifferentChain(ctx, Config{})
	if err != nil {
		t.Fatalf("StartDifferentChain: %v", err)
	}
	t.Cleanup(func() { other.Close() })
	if other.ChainID() != n.ChainID() || other.GenesisHash() == n.GenesisHash() || len(other.Nodes()) != 1 {
		t.Fatalf("other chain: id %d genesis %s nodes %d; ours %d %s",
			other.ChainID(), other.GenesisHash(), len(other.Nodes()), n.ChainID(), n.GenesisHash())
	}
	mine(t, n, 1)
	blk, _ := n.Block(1)
	eng := other.Nodes()[0].Engine()
	st, err := eng.NewPayloadBlock(ctx, blk)
	if err != nil || st.Status != StatusSyncing {
		t.Fatalf("newPayload of a foreign block: %v %s, want SYNCING", err, st)
	}
	st, _, err = eng.ForkchoiceUpdated(ctx, blk.Hash, blk.Hash, blk.Hash, nil)
	if err != nil || st.Status != StatusSyncing {
		t.Fatalf("forkchoiceUpdated to a foreign block: %v %s, want SYNCING", err, st)
	}
	if got := mine(t, other, 1); got != 1 {
		t.Fatalf("other chain mined %d, want 1", got)
	}
	if own, _ := other.Block(1); own.Hash == blk.Hash {
		t.Fatal("both chains produced the same block 1")
	}
}

func TestDriverErrors(t *testing.T) {
	n := startNet(t, Config{Nodes: 1})
	ctx := testCtx(t)
	nd := n.Nodes()[0]
	for name, secret := range map[string][]byte{"no token": nil, "wrong secret": bytes.Repeat([]byte{7}, 32)} {
		d := NewDriver(nd.AuthURL(), secret)
		_, err := d.Call(ctx, "eth_chainId")
		d.Close()
		var he *HTTPError
		if !errors.As(err, &he) || he.StatusCode != http.StatusUnauthorized {
			t.Fatalf("%s: err %v, want HTTP 401", name, err)
		}
	}
	d := NewDriver(nd.AuthURL(), nd.JWTSecret())
	defer d.Close()
	if raw, err := d.Call(ctx, "eth_chainId"); err != nil || string(raw) != `"0x539"` {
		t.Fatalf("eth_chainId on the auth port: %s %v", raw, err)
	}
	_, _, err := d.GetPayload(ctx, "0x03000000000000ff")
	var re *RPCError
	if !errors.As(err, &re) || re.Code != -38001 {
		t.Fatalf("unknown payload id: %v, want json-rpc error -38001", err)
	}
}
