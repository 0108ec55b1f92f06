package e2e

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/evmgate/evmgate/internal/devnet"
	"github.com/evmgate/evmgate/internal/gateway"
)

// drillGateway is the gateway configuration of the drills: probes every
// 100ms, a per-try timeout of 1s (2s under race) and two retries.
func drillGateway() gwOptions {
	o := gwOptions{Poll: 100 * time.Millisecond, BlockDiff: 2, RPCTimeout: time.Second, Retries: 2, DownAfter: 3}
	if raceEnabled {
		o.RPCTimeout = 2 * time.Second
	}
	return o
}

// drill is a fault on one node during the load.
type drill struct {
	node    string // the node's name in the gateway
	fault   func(ctx context.Context) error
	recover func(ctx context.Context) error
	// probeStall is how long a probe sent during the fault may still hold
	// the node's prober after recovery (a hung probe waits out its timeout).
	probeStall time.Duration
}

// drillReport holds a drill's figures.
type drillReport struct {
	all, failover      loadStats
	faultTook          time.Duration // how long fault took (a node's shutdown)
	detectIn           time.Duration // fault done → node out of rotation
	recoverTook        time.Duration // how long recover took (restart and catch-up)
	backIn             time.Duration // recover done → node eligible again
	servedAfterRecover float64       // calls the node answered once back
	probeStall         time.Duration // from drill
}

// startDrillNet starts three nodes mining every 500ms and waits for block 2.
func startDrillNet(t *testing.T) *devnet.Net {
	t.Helper()
	net := startNet(t, devnet.Config{Nodes: 3, BlockPeriod: 500 * time.Millisecond})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := net.WaitHead(ctx, 2); err != nil {
		t.Fatal(err)
	}
	return net
}

// runDrill runs the closed-loop load through g for drillShape's duration:
// the fault at one third, the recovery at two thirds, and the load goes on
// at least one second after the node is back in rotation.
func runDrill(t *testing.T, g *gateway.Gateway, net *devnet.Net, d drill) drillReport {
	t.Helper()
	shape := drillShape()
	ctx, cancel := context.WithTimeout(context.Background(), shape.Duration+90*time.Second)
	defer cancel()
	waitUntil(t, 15*time.Second, "every node eligible", func() bool {
		return eligible(g, "node0") && eligible(g, "node1") && eligible(g, "node2")
	})
	c := dialRPC(t, gatewayURL(g))
	_, faucet := net.Faucet()

	stop := make(chan struct{})
	var stopOnce sync.Once
	halt := func() { stopOnce.Do(func() { close(stop) }) }
	var run loadRun
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); run = runLoad(ctx, c, shape.Clients, faucet.Hex(), stop) }()
	defer func() { halt(); wg.Wait() }()
	start := time.Now()

	r := drillReport{probeStall: d.probeStall}
	sleepUntil(ctx, start.Add(shape.Duration/3))
	faultAt := time.Now()
	if err := d.fault(ctx); err != nil {
		t.Fatalf("fault on %s: %v", d.node, err)
	}
	r.faultTook = time.Since(faultAt)
	r.detectIn = waitUntil(t, 15*time.Second, d.node+" out of rotation", func() bool { return !eligible(g, d.node) })

	sleepUntil(ctx, start.Add(shape.Duration*2/3))
	recoverAt := time.Now()
	if err := d.recover(ctx); err != nil {
		t.Fatalf("recovering %s: %v", d.node, err)
	}
	r.recoverTook = time.Since(recoverAt)
	r.backIn = waitUntil(t, 15*time.Second, d.node+" back in rotation", func() bool { return eligible(g, d.node) })
	backAt := time.Now()
	before := servedCalls(t, g)[d.node]
	sleepUntil(ctx, later(start.Add(shape.Duration), backAt.Add(time.Second)))
	halt()
	wg.Wait()
	r.servedAfterRecover = servedCalls(t, g)[d.node] - before
	r.all = summarize(run, time.Time{}, time.Time{})
	r.failover = summarize(run, faultAt, backAt)
	return r
}

func sleepUntil(ctx context.Context, at time.Time) {
	t := time.NewTimer(time.Until(at))
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}

func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// check logs the figures and asserts what every drill must hold: no failed
// call, and the node back in rotation and serving soon after it recovered.
func (r drillReport) check(t *testing.T, o gwOptions) {
	t.Helper()
	shape := drillShape()
	t.Logf("load: %d clients, closed loop; per-try timeout %s, poll %s", shape.Clients, o.RPCTimeout, o.Poll)
	t.Logf("whole run:       %s", r.all)
	t.Logf("during failover: %s", r.failover)
	t.Logf("fault took %s, node out of rotation %s later; recovery took %s, node back in rotation %s later (%s after recovery began), then served %.0f calls",
		r.faultTook.Round(time.Millisecond), r.detectIn.Round(time.Millisecond), r.recoverTook.Round(time.Millisecond),
		r.backIn.Round(time.Millisecond), (r.recoverTook + r.backIn).Round(time.Millisecond), r.servedAfterRecover)
	if r.all.Calls == 0 {
		t.Fatal("the load sent no call")
	}
	if r.all.Failures != 0 {
		t.Errorf("%d of %d client calls failed; first: %v", r.all.Failures, r.all.Calls, r.all.Errors)
	}
	// "A few poll intervals": a probe must see the node and its chain id
	// again. 20 intervals leaves room for a loaded 2-core machine.
	if limit := r.probeStall + 20*o.Poll; r.backIn > limit {
		t.Errorf("node back in rotation after %s, want within %s", r.backIn, limit)
	}
	if r.servedAfterRecover == 0 {
		t.Error("the recovered node served no call after it was back in rotation")
	}
}

// TestDrillNodeStopsAndRestartsUnderLoad stops one of three nodes in the
// middle of a closed-loop load through evmgate and restarts it later: no
// client call may fail, and the node must be back in rotation within a few
// poll intervals of its restart.
func TestDrillNodeStopsAndRestartsUnderLoad(t *testing.T) {
	net := startDrillNet(t)
	o := drillGateway()
	g := startGateway(t, nodeURLs(net), o)
	victim := net.Nodes()[1]
	r := runDrill(t, g, net, drill{
		node:    "node1",
		fault:   func(context.Context) error { return victim.Stop() },
		recover: victim.Restart,
	})
	r.check(t, o)
}

// TestDrillNodeHangsUnderLoad puts a forwarder in front of one of three
// nodes and switches it to hang (connections accepted, never answered) in
// the middle of the load, then back to pass. No client call may fail, and
// no call may wait much longer than one per-try timeout: the bound asserted
// is 3× rpc_timeout; the log gives the real figure.
func TestDrillNodeHangsUnderLoad(t *testing.T) {
	net := startDrillNet(t)
	urls := nodeURLs(net)
	fwd := startForwarder(t, urls[1])
	urls[1] = fwd.URL()
	o := drillGateway()
	g := startGateway(t, urls, o)
	r := runDrill(t, g, net, drill{
		node:    "node1",
		fault:   func(context.Context) error { return fwd.SetMode(modeHang) },
		recover: func(context.Context) error { return fwd.SetMode(modePass) },
		// The probe in flight when the forwarder passes again was sent into
		// the hang: the prober waits out rpc_timeout before the next one.
		probeStall: o.RPCTimeout,
	})
	r.check(t, o)
	if limit := 3 * o.RPCTimeout; r.all.Max > limit {
		t.Errorf("a client call took %s while the node hung, want at most %s (3× rpc_timeout)", r.all.Max, limit)
	}
}
