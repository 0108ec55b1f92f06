package engine

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/beacon/engine"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"

	"github.com/evmgate/evmgate/internal/devnet"
)

// These tests put the Mux between a test acting as the consensus client and
// real go-ethereum nodes (internal/devnet). Each node has its own JWT secret
// and the consensus client a third one, so every call that works proves
// the per-node outbound tokens.

func devCtx(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

func startNet(t *testing.T, cfg devnet.Config, start func(context.Context, devnet.Config) (*devnet.Net, error)) *devnet.Net {
	t.Helper()
	n, err := start(devCtx(t), cfg)
	if err != nil {
		t.Fatalf("starting devnet: %v", err)
	}
	t.Cleanup(func() {
		if err := n.Close(); err != nil {
			t.Errorf("closing devnet: %v", err)
		}
	})
	return n
}

// devMux is a Mux in front of real nodes, with a CL driver pointed at it.
type devMux struct {
	*Mux
	url    string
	drv    *devnet.Driver
	secret Secret
}

func startDevMux(t *testing.T, nodes []*devnet.Node, opts ...muxOption) *devMux {
	t.Helper()
	secret, path := randomSecret(t)
	cfg := Config{Enabled: true, JWTSecretPath: path, NodeTimeout: "5s", RecheckInterval: "1h"}
	for _, n := range nodes {
		cfg.Nodes = append(cfg.Nodes, NodeConfig{URL: n.AuthURL(), JWTSecretPath: n.JWTSecretPath()})
	}
	for _, o := range opts {
		o(&cfg)
	}
	m, err := New(cfg, nil, nil)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	d := &devMux{Mux: m, secret: secret}
	return d.serve(t)
}

// serve starts the listener; hooks must be set before.
func (d *devMux) serve(t *testing.T) *devMux {
	srv := httptest.NewServer(d.Handler()) // 127.0.0.1:0
	d.url = srv.URL
	d.drv = devnet.NewDriver(srv.URL, d.secret[:])
	t.Cleanup(func() {
		d.drv.Close()
		srv.Close()
		if err := d.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return d
}

// blockFrom turns a getPayloadV5 answer into a devnet.Block.
func blockFrom(t *testing.T, payload, env json.RawMessage, beaconRoot common.Hash) devnet.Block {
	t.Helper()
	var ed engine.ExecutableData
	if err := json.Unmarshal(payload, &ed); err != nil {
		t.Fatalf("decoding payload: %v", err)
	}
	var e struct {
		Requests []hexutil.Bytes `json:"executionRequests"`
	}
	if err := json.Unmarshal(env, &e); err != nil {
		t.Fatalf("decoding envelope: %v", err)
	}
	return devnet.Block{Number: ed.Number, Hash: ed.BlockHash, ParentHash: ed.ParentHash, Timestamp: ed.Timestamp,
		TxCount: len(ed.Transactions), Payload: payload, Envelope: env, BeaconRoot: beaconRoot, Requests: e.Requests}
}

// buildPayload runs fcU with attributes and getPayload through drv.
func buildPayload(t *testing.T, drv *devnet.Driver, net *devnet.Net) devnet.Block {
	t.Helper()
	ctx := devCtx(t)
	head, safe, final := net.Forkchoice()
	attrs := net.NextAttributes()
	st, id, err := drv.ForkchoiceUpdated(ctx, head, safe, final, attrs)
	if err != nil || st.Status != devnet.StatusValid || id == "" {
		t.Fatalf("fcU with attributes: %v %v id=%q", st, err, id)
	}
	payload, env, err := drv.GetPayload(ctx, id)
	if err != nil {
		t.Fatalf("getPayload: %v", err)
	}
	return blockFrom(t, payload, env, attrs.ParentBeaconBlockRoot)
}

// mineViaMux builds a block through the mux, imports it through the mux and
// makes it the head, then records it in the Net (for later catch-ups).
func (d *devMux) mineViaMux(t *testing.T, net *devnet.Net) devnet.Block {
	t.Helper()
	ctx := devCtx(t)
	blk := buildPayload(t, d.drv, net)
	st, err := d.drv.NewPayloadBlock(ctx, blk)
	if err != nil || st.Status != devnet.StatusValid || st.LatestValidHash == nil || *st.LatestValidHash != blk.Hash {
		t.Fatalf("newPayload via mux: %v %v", st, err)
	}
	_, safe, final := net.Forkchoice()
	st, id, err := d.drv.ForkchoiceUpdated(ctx, blk.Hash, safe, final, nil)
	if err != nil || st.Status != devnet.StatusValid || id != "" {
		t.Fatalf("fcU via mux: %v %v id=%q", st, err, id)
	}
	if err := net.ImportBlock(ctx, blk); err != nil {
		t.Fatalf("recording block: %v", err)
	}
	return blk
}

func requireHead(t *testing.T, nodes []*devnet.Node, want uint64) {
	t.Helper()
	for _, n := range nodes {
		got, err := n.BlockNumber(devCtx(t))
		if err != nil || got != want {
			t.Fatalf("%s head %d (%v), want %d", n.Name(), got, err, want)
		}
	}
}

func TestDevnetBlocksViaMux(t *testing.T) {
	net := startNet(t, devnet.Config{Nodes: 3}, devnet.Start)
	d := startDevMux(t, net.Nodes())
	for want := uint64(1); want <= 3; want++ {
		blk := d.mineViaMux(t, net)
		if blk.Number != want {
			t.Fatalf("built block %d, want %d", blk.Number, want)
		}
		requireHead(t, net.Nodes(), want)
	}
	// eth_* on the engine port: authenticated, served by the primary.
	raw, err := d.drv.Call(devCtx(t), "eth_blockNumber")
	if err != nil || string(raw) != `"0x3"` {
		t.Fatalf("eth_blockNumber via mux: %s %v", raw, err)
	}
	raw, err = d.drv.Call(devCtx(t), "engine_getClientVersionV1",
		map[string]string{"code": "LH", "name": "Lighthouse", "version": "v8", "commit": "0x01020304"})
	var versions []struct{ Code string }
	if err != nil || json.Unmarshal(raw, &versions) != nil || len(versions) != 3 || versions[2].Code != "GE" {
		t.Fatalf("getClientVersionV1 via mux: %s %v, want one flat list of 3", raw, err)
	}
	raw, err = d.drv.Call(devCtx(t), "engine_exchangeCapabilities",
		[]string{devnet.MethodNewPayload, devnet.MethodForkchoiceUpdated, devnet.MethodGetPayload, "engine_notAMethodV1"})
	if err != nil || !strings.Contains(string(raw), devnet.MethodGetPayload) || strings.Contains(string(raw), "engine_exchangeCapabilities") {
		t.Fatalf("exchangeCapabilities via mux: %s %v", raw, err)
	}
}

func TestDevnetTamperedPayloads(t *testing.T) {
	net := startNet(t, devnet.Config{Nodes: 3}, devnet.Start)
	d := startDevMux(t, net.Nodes())
	parent := d.mineViaMux(t, net)
	ctx := devCtx(t)
	blk := buildPayload(t, d.drv, net)

	badRoot, err := devnet.TamperStateRoot(blk.Payload)
	if err != nil {
		t.Fatal(err)
	}
	st, err := d.drv.NewPayload(ctx, badRoot, nil, blk.BeaconRoot, blk.Requests)
	// geth: INVALID, latestValidHash = the parent, "invalid merkle root".
	if err != nil || st.Status != devnet.StatusInvalid || st.LatestValidHash == nil || *st.LatestValidHash != parent.Hash ||
		st.ValidationError == nil || !strings.Contains(*st.ValidationError, "merkle root") {
		t.Fatalf("tampered state root via mux: %v %v, want INVALID lvh=%s", st, err, parent.Hash)
	}
	badHash, err := devnet.TamperBlockHash(blk.Payload)
	if err != nil {
		t.Fatal(err)
	}
	st, err = d.drv.NewPayload(ctx, badHash, nil, blk.BeaconRoot, blk.Requests)
	// geth never answers INVALID_BLOCK_HASH: INVALID, lvh null, "blockhash mismatch".
	if err != nil || st.Status != devnet.StatusInvalid || st.LatestValidHash != nil {
		t.Fatalf("tampered block hash via mux: %v %v, want INVALID lvh=null", st, err)
	}
	// The honest block still goes through.
	if st, err := d.drv.NewPayloadBlock(ctx, blk); err != nil || st.Status != devnet.StatusValid {
		t.Fatalf("honest block after tampered ones: %v %v", st, err)
	}
}

func TestDevnetNodeStoppedAndRestarted(t *testing.T) {
	net := startNet(t, devnet.Config{Nodes: 3}, devnet.Start)
	nodes := net.Nodes()
	d := startDevMux(t, nodes)
	d.mineViaMux(t, net)
	if err := nodes[2].Stop(); err != nil {
		t.Fatal(err)
	}
	for want := uint64(2); want <= 3; want++ {
		d.mineViaMux(t, net) // VALID from the two running nodes
		requireHead(t, nodes[:2], want)
	}
	if s := d.nodeList()[2].getState(); s != stateDead {
		t.Fatalf("stopped node is %s, want dead", s)
	}
	if err := nodes[2].Restart(devCtx(t)); err != nil { // the devnet replays missed blocks, standing in for p2p sync
		t.Fatal(err)
	}
	d.recheck(devCtx(t))
	if s := d.nodeList()[2].getState(); s != stateAlive {
		t.Fatalf("restarted node is %s after a recheck, want alive", s)
	}
	d.mineViaMux(t, net)
	requireHead(t, nodes, 4)
}

func TestDevnetDifferentChainNeverValid(t *testing.T) {
	net := startNet(t, devnet.Config{Nodes: 1}, devnet.Start)
	other := startNet(t, devnet.Config{Nodes: 2}, devnet.StartDifferentChain)
	honest := net.Nodes()[0]
	blk := buildPayload(t, honest.Engine(), net) // built directly on the honest chain
	_, safe, final := net.Forkchoice()
	for _, tc := range []struct {
		name  string
		nodes []*devnet.Node
	}{
		{"1 honest of 3", []*devnet.Node{honest, other.Nodes()[0], other.Nodes()[1]}},
		{"1 honest of 2 (tie)", []*devnet.Node{honest, other.Nodes()[0]}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := devCtx(t)
			d := startDevMux(t, tc.nodes)
			st, err := d.drv.NewPayloadBlock(ctx, blk)
			if err != nil || st.Status != devnet.StatusSyncing {
				t.Fatalf("newPayload: %v %v, want SYNCING", st, err)
			}
			st, id, err := d.drv.ForkchoiceUpdated(ctx, blk.Hash, safe, final, nil)
			if err != nil || st.Status != devnet.StatusSyncing || id != "" {
				t.Fatalf("fcU: %v %v id=%q, want SYNCING", st, err, id)
			}
			head, safe0, final0 := net.Forkchoice()
			st, id, err = d.drv.ForkchoiceUpdated(ctx, head, safe0, final0, net.NextAttributes())
			if err != nil || st.Status != devnet.StatusSyncing || id != "" {
				t.Fatalf("fcU with attributes: %v %v id=%q, want SYNCING without payloadId", st, err, id)
			}
		})
	}
}

func TestDevnetAuth(t *testing.T) {
	net := startNet(t, devnet.Config{Nodes: 1}, devnet.Start)
	d := startDevMux(t, net.Nodes())
	ctx := devCtx(t)
	var other Secret
	other[0] = 7
	wrong := devnet.NewDriver(d.url, other[:])
	defer wrong.Close()
	none := devnet.NewDriver(d.url, nil)
	defer none.Close()
	for name, drv := range map[string]*devnet.Driver{"wrong secret": wrong, "missing token": none} {
		_, err := drv.Call(ctx, "engine_exchangeCapabilities", []string{})
		var he *devnet.HTTPError
		if !errors.As(err, &he) || he.StatusCode != http.StatusUnauthorized {
			t.Errorf("%s: %v, want HTTP 401", name, err)
		}
	}
	for name, iat := range map[string]time.Time{"stale iat": time.Now().Add(-2 * time.Minute), "future iat": time.Now().Add(2 * time.Minute)} {
		req, _ := http.NewRequestWithContext(ctx, http.MethodPost, d.url,
			strings.NewReader(`{"jsonrpc":"2.0","id":1,"method":"engine_exchangeCapabilities","params":[[]]}`))
		req.Header.Set("Authorization", "Bearer "+d.drv.Token(iat))
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != http.StatusUnauthorized {
			t.Errorf("%s: HTTP %d, want 401", name, res.StatusCode)
		}
	}
	if _, err := d.drv.Call(ctx, "engine_exchangeCapabilities", []string{}); err != nil {
		t.Fatalf("a good token was refused: %v", err)
	}
}
