package gateway

import (
	"context"
	"net/http"
	"sync"
	"time"

	"github.com/evmgate/evmgate/internal/upstream"
)

// Drain begins a graceful shutdown: from now on GET /ready answers 503, so
// a load balancer (a Kubernetes readiness probe) stops sending new calls,
// while everything else is served as before. Close then stops the
// listeners and drains the calls in flight.
func (g *Gateway) Drain() { g.draining.Store(true) }

// serveReadyUnlessDraining answers /ready: 503 once shutting down, else as
// serveReady.
func (g *Gateway) serveReadyUnlessDraining(w http.ResponseWriter, r *http.Request) {
	if g.draining.Load() {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusServiceUnavailable)
		_, _ = w.Write([]byte(`{"status":"shutting down"}` + "\n"))
		return
	}
	g.serveReady(w, r)
}

// stopWait bounds the answers to the calls that stopCalls stops: the
// servers wait that long for them to be written before their connections
// are closed.
const stopWait = 500 * time.Millisecond

// stopCalls ends the calls still in flight at the end of a shutdown's
// grace: their contexts end with proxy.ErrShuttingDown, which every path
// answers as -32056 (HTTP 503 with Retry-After), and the nodes cut the
// connections of the tries still waiting on them, so those tries end at
// once instead of running on.
func (g *Gateway) stopCalls() {
	g.handler.StopCalls()
	for _, n := range g.networks() {
		for _, nd := range n.pool.Nodes() {
			nd.Interrupt()
		}
	}
	for _, nd := range g.retire.nodes() { // a network a reload removed, still finishing its calls
		nd.Interrupt()
	}
}

// StoppedCalls returns how many calls in flight at the end of the
// shutdown's grace were answered -32056 (a batch's each), and how many
// answers it cut partway (written in part already: nothing else is
// possible).
func (g *Gateway) StoppedCalls() (answered, cut int64) { return g.handler.Stopped() }

// retireTick is how often a removed network is checked for calls left.
const retireTick = 20 * time.Millisecond

// retirements are the networks a reload removed while they finish the calls
// they had: their WebSocket clients are sent away, their queue and nodes
// are closed once no call is left, or at the latest when the call budget
// (request_timeout) is spent or the gateway closes.
type retirements struct {
	mu     sync.Mutex // mu protects ctx, cancel and nets
	ctx    context.Context
	cancel context.CancelFunc
	nets   map[*network]struct{} // the networks retiring now
	wg     sync.WaitGroup
}

// nodes returns the nodes of the networks retiring now.
func (rt *retirements) nodes() []*upstream.Node {
	rt.mu.Lock()
	defer rt.mu.Unlock()
	var out []*upstream.Node
	for n := range rt.nets {
		out = append(out, n.pool.Nodes()...)
	}
	return out
}

// start retires n in the background within budget.
func (rt *retirements) start(g *Gateway, n *network, budget time.Duration) {
	rt.mu.Lock()
	if rt.ctx == nil {
		rt.ctx, rt.cancel = context.WithCancel(context.Background())
	}
	parent := rt.ctx
	if rt.nets == nil {
		rt.nets = map[*network]struct{}{}
	}
	rt.nets[n] = struct{}{}
	rt.wg.Add(1)
	rt.mu.Unlock()
	go func() {
		defer rt.wg.Done()
		defer func() {
			rt.mu.Lock()
			delete(rt.nets, n)
			rt.mu.Unlock()
		}()
		ctx, cancel := context.WithTimeout(parent, budget)
		defer cancel()
		n.monitor.Close()
		n.breakers.Close()
		if g.ws != nil {
			g.ws.DrainNetwork(ctx, n.pool)
		}
		t := time.NewTicker(retireTick)
		defer t.Stop()
		for !n.idle() && ctx.Err() == nil {
			select {
			case <-ctx.Done():
			case <-t.C:
			}
		}
		drained := n.idle()
		n.queue.s.Close() // a call still queued now is answered with an error
		for _, nd := range n.pool.Nodes() {
			nd.Close()
		}
		g.log.Info("network retired", "network", n.cfg.Name, "drained", drained)
	}()
}

// stop ends the retirements at once and waits for them.
func (rt *retirements) stop() {
	rt.mu.Lock()
	if rt.cancel != nil {
		rt.cancel()
	}
	rt.mu.Unlock()
	rt.wg.Wait()
}

// idle reports whether no call waits in n's queue or runs on its nodes.
func (n *network) idle() bool {
	for _, l := range n.queue.s.Len() {
		if l > 0 {
			return false
		}
	}
	for _, nd := range n.pool.Nodes() {
		if nd.InFlight() > 0 {
			return false
		}
	}
	return true
}
