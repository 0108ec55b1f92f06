//go:build !nodemo

package main

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/evmgate/evmgate/internal/devnet"
)

// engineHang is a relay in front of a real node's Engine API that, while
// hanging, holds every newPayload and forkchoiceUpdated until it is let go
// or the gateway gives up, and passes everything else (eth_syncing) at
// once: an execution client whose engine calls hang though it still says
// it is in step.
type engineHang struct {
	srv    *httptest.Server
	probes atomic.Int64  // eth_syncing calls seen
	held   chan struct{} // one value per call held

	mu      sync.Mutex    // mu protects release
	release chan struct{} // closed to let the held calls through; nil while not hanging
}

func newEngineHang(t *testing.T, nd *devnet.Node) *engineHang {
	h := &engineHang{held: make(chan struct{}, 256)}
	h.srv = relay(t, nd.AuthURL(), func(r *http.Request, body []byte) {
		var req struct {
			Method string `json:"method"`
		}
		_ = json.Unmarshal(body, &req)
		if req.Method == "eth_syncing" {
			h.probes.Add(1)
		}
		if !strings.HasPrefix(req.Method, "engine_newPayload") && !strings.HasPrefix(req.Method, "engine_forkchoiceUpdated") {
			return
		}
		h.mu.Lock()
		release := h.release
		h.mu.Unlock()
		if release == nil {
			return
		}
		h.held <- struct{}{}
		select {
		case <-release:
		case <-r.Context().Done(): // the gateway gave up on the call
		}
	})
	t.Cleanup(func() { h.setHanging(false) })
	return h
}

// setHanging starts holding engine calls, or lets every held one through.
func (h *engineHang) setHanging(on bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	switch {
	case on && h.release == nil:
		h.release = make(chan struct{})
	case !on && h.release != nil:
		close(h.release)
		h.release = nil
	}
}

// timedBlock builds, imports and makes head one block through the gateway,
// as a consensus client does, and returns how long each ordered call took:
// forkchoiceUpdated with attributes, newPayload, forkchoiceUpdated. Every
// answer must be VALID.
func timedBlock(ctx context.Context, t *testing.T, drv *devnet.Driver, net *devnet.Net) (fcuAttrs, newPayload, fcu time.Duration) {
	t.Helper()
	_, safe, final := net.Forkchoice()
	blk, fcuAttrs := buildThrough(ctx, t, drv, net)
	start := time.Now()
	if st, err := drv.NewPayloadBlock(ctx, blk); err != nil || st.Status != devnet.StatusValid {
		t.Fatalf("newPayload: %v %v", st, err)
	}
	newPayload = time.Since(start)
	start = time.Now()
	if st, _, err := drv.ForkchoiceUpdated(ctx, blk.Hash, safe, final, nil); err != nil || st.Status != devnet.StatusValid {
		t.Fatalf("forkchoiceUpdated: %v %v", st, err)
	}
	fcu = time.Since(start)
	if err := net.ImportBlock(ctx, blk); err != nil {
		t.Fatal(err)
	}
	return fcuAttrs, newPayload, fcu
}

// TestEngineStalledNodeAsProcess: `evmgate -config` with an engine section
// in front of three real go-ethereum nodes, one behind a relay that hangs
// its engine calls while passing eth_syncing. The first hung call costs
// node_timeout (6 s); the node then stops voting (logged, and
// evmgate_engine_node_voting 0) though its probes keep it alive, so every
// later newPayload and forkchoiceUpdated, with attributes too, answers VALID
// from the two others in under half of node_timeout, probes
// notwithstanding. When the node answers an engine call again it votes again
// (logged, gauge 1): its next hang is waited for again, for the probation
// wait, a quarter of node_timeout.
func TestEngineStalledNodeAsProcess(t *testing.T) {
	const nodeTimeout = 6 * time.Second
	ctx, cancel := context.WithTimeout(t.Context(), 4*time.Minute)
	defer cancel()
	net, err := devnet.Start(ctx, devnet.Config{Nodes: 3})
	if err != nil {
		t.Fatal(err)
	}
	defer net.Close()
	nodes := net.Nodes()
	hang := newEngineHang(t, nodes[1])
	dir := t.TempDir()
	secret, secretPath := hexSecret(t, dir, "cl.hex")
	port, metricsPort := freePort(t), freePort(t)
	yaml := "metrics_addr: 127.0.0.1\nmetrics_port: " + itoa(metricsPort) + "\nengine:\n  enabled: true\n  listen_addr: " +
		addr(port) + "\n  jwt_secret: " + secretPath + "\n  node_timeout: " + nodeTimeout.String() +
		"\n  recheck_interval: 2s\n  nodes:\n"
	for i, n := range nodes {
		url := n.AuthURL()
		if i == 1 {
			url = hang.srv.URL
		}
		yaml += "    - url: " + url + "\n      jwt_secret: " + n.JWTSecretPath() + "\n"
	}
	cfg := filepath.Join(dir, "engine.yaml")
	writeFile(t, cfg, yaml)
	p := startProc(t, nil, "-config", cfg)
	p.waitOutput(p.stderr, "engine API multiplexer started", 2*time.Minute)
	base := "http://" + addr(port)
	drv := devnet.NewDriver(base, secret)
	defer drv.Close()
	mineThrough(ctx, t, drv, net, true) // block 1, every node answering
	voting := func(v string) bool {
		_, body := get(t, "http://"+addr(metricsPort)+"/metrics")
		return strings.Contains(body, `evmgate_engine_node_voting{node="`+hang.srv.URL+`"} `+v)
	}
	if !voting("1") {
		t.Fatal("evmgate_engine_node_voting of the relayed node is not 1 before it hangs")
	}

	hang.setHanging(true)
	fcuAttrs, newPayload, fcu := timedBlock(ctx, t, drv, net)
	t.Logf("block 2: forkchoiceUpdated with attributes %v (the first hung call), newPayload %v, forkchoiceUpdated %v", fcuAttrs, newPayload, fcu)
	if fcuAttrs < nodeTimeout {
		t.Fatalf("the first hung call took %v, under node_timeout %v: the relay did not hang it", fcuAttrs, nodeTimeout)
	}
	if newPayload >= nodeTimeout/2 || fcu >= nodeTimeout/2 {
		t.Fatalf("after the first timeout newPayload took %v, forkchoiceUpdated %v; want each under %v", newPayload, fcu, nodeTimeout/2)
	}
	p.waitOutput(p.stderr, "engine node stops voting", time.Minute)
	if !voting("0") {
		t.Fatal("evmgate_engine_node_voting of the hung node is not 0")
	}
	code, body := get(t, base+"/metrics")
	rep := parseEngineReport(t, "GET /metrics", code, body)
	if !slices.Contains(rep.AliveNodes, hang.srv.URL) || rep.PrimaryNode == hang.srv.URL {
		t.Fatalf("status with the node's engine hung but eth_syncing answering: %s; want it alive and not the primary", body)
	}
	// Probes find it in step; they must not bring its vote back.
	probes := hang.probes.Load()
	eventually(t, time.Minute, "two more probes of the hung node", func() bool { return hang.probes.Load() >= probes+2 })
	fcuAttrs, newPayload, fcu = timedBlock(ctx, t, drv, net)
	t.Logf("block 3, after probes: forkchoiceUpdated with attributes %v, newPayload %v, forkchoiceUpdated %v", fcuAttrs, newPayload, fcu)
	for _, d := range []time.Duration{fcuAttrs, newPayload, fcu} {
		if d >= nodeTimeout/2 {
			t.Fatalf("block 3 after probes of the hung node: calls took %v, %v, %v; want each under %v", fcuAttrs, newPayload, fcu, nodeTimeout/2)
		}
	}

	// It answers again: the held call goes through in time and it votes.
	hang.setHanging(false)
	p.waitOutput(p.stderr, "engine node votes again", time.Minute)
	eventually(t, time.Minute, "evmgate_engine_node_voting 1 again", func() bool { return voting("1") })
	for len(hang.held) > 0 {
		<-hang.held
	}
	// Its vote counts again, so its next hang is waited for, on probation:
	// a quarter of node_timeout, not all of it.
	hang.setHanging(true)
	head, safe, final := net.Forkchoice()
	start := time.Now()
	if st, _, err := drv.ForkchoiceUpdated(ctx, head, safe, final, nil); err != nil || st.Status != devnet.StatusValid {
		t.Fatalf("forkchoiceUpdated after the node is back: %v %v", st, err)
	}
	took := time.Since(start)
	t.Logf("forkchoiceUpdated with the node back and hanging again: %v", took)
	select {
	case <-hang.held:
	default:
		t.Fatal("the node back in the vote did not get the forkchoiceUpdated")
	}
	if took < nodeTimeout/4 || took >= nodeTimeout/2 {
		t.Fatalf("forkchoiceUpdated took %v; want the probation wait of a voting node, %v, and under %v", took, nodeTimeout/4, nodeTimeout/2)
	}
	if code, took := p.terminate(30 * time.Second); code != 0 {
		t.Fatalf("exit code %d after SIGTERM (%v)", code, took)
	}
}
