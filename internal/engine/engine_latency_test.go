package engine

import (
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/evmgate/evmgate/internal/devnet"
)

// TestDevnetAddedLatency measures what the Mux adds to newPayload and
// forkchoiceUpdated against three real nodes: the time the consensus client
// waits minus the round trip of the slowest voting node (the Mux must wait
// for every voter before it may say VALID, see Rule). It logs the figures
// and asserts nothing about time; run with -v to read them.
func TestDevnetAddedLatency(t *testing.T) {
	const blocks = 30
	net := startNet(t, devnet.Config{Nodes: 3}, devnet.Start)
	secret, path := randomSecret(t)
	cfg := Config{Enabled: true, JWTSecretPath: path, RecheckInterval: "1h"}
	for _, n := range net.Nodes() {
		cfg.Nodes = append(cfg.Nodes, NodeConfig{URL: n.AuthURL(), JWTSecretPath: n.JWTSecretPath()})
	}
	m, err := New(cfg, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	slowest := map[string]time.Duration{}
	m.traceFanOut = func(method string, d time.Duration) {
		mu.Lock()
		defer mu.Unlock()
		slowest[method] = d
	}
	d := (&devMux{Mux: m, secret: secret}).serve(t)
	lastSlowest := func(method string) time.Duration {
		mu.Lock()
		defer mu.Unlock()
		return slowest[method]
	}

	var npTotal, npAdded, fcTotal, fcAdded []time.Duration
	for i := range blocks + 2 {
		ctx := devCtx(t)
		blk := buildPayload(t, d.drv, net)
		start := time.Now()
		st, err := d.drv.NewPayloadBlock(ctx, blk)
		took := time.Since(start)
		if err != nil || st.Status != devnet.StatusValid {
			t.Fatalf("newPayload: %v %v", st, err)
		}
		npSlow := lastSlowest(devnet.MethodNewPayload)
		_, safe, final := net.Forkchoice()
		start = time.Now()
		st, _, err = d.drv.ForkchoiceUpdated(ctx, blk.Hash, safe, final, nil)
		fcTook := time.Since(start)
		if err != nil || st.Status != devnet.StatusValid {
			t.Fatalf("fcU: %v %v", st, err)
		}
		fcSlow := lastSlowest(devnet.MethodForkchoiceUpdated)
		if err := net.ImportBlock(ctx, blk); err != nil {
			t.Fatal(err)
		}
		if i < 2 { // warm-up: connections, caches
			continue
		}
		npTotal, npAdded = append(npTotal, took), append(npAdded, took-npSlow)
		fcTotal, fcAdded = append(fcTotal, fcTook), append(fcAdded, fcTook-fcSlow)
	}
	t.Logf("%d blocks, 3 geth nodes, client -> mux -> nodes on loopback", blocks)
	t.Logf("newPayloadV4       total %s | added over slowest voter %s", quantiles(npTotal), quantiles(npAdded))
	t.Logf("forkchoiceUpdatedV3 total %s | added over slowest voter %s", quantiles(fcTotal), quantiles(fcAdded))
}

func quantiles(ds []time.Duration) string {
	s := slices.Clone(ds)
	slices.Sort(s)
	q := func(p float64) time.Duration { return s[int(p*float64(len(s)-1))] }
	r := func(d time.Duration) string { return d.Round(time.Microsecond).String() }
	return "p50 " + r(q(0.5)) + " p90 " + r(q(0.9)) + " max " + r(s[len(s)-1])
}
