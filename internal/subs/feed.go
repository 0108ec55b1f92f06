package subs

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/evmgate/evmgate/internal/jsonrpc"
	"github.com/evmgate/evmgate/internal/upstream"
	"github.com/prometheus/client_golang/prometheus"
)

// feed is one upstream subscription and its subscribers.
type feed struct {
	hub    *Hub
	req    request
	ctx    context.Context
	cancel context.CancelFunc
	ready  chan struct{} // closed once the feed runs or failed to start
	err    error         // why it failed to start; written before ready is closed

	mu      sync.Mutex // protects members, timer, closing
	members []*Subscription
	timer   *time.Timer
	closing bool
	subs    atomic.Pointer[[]*Subscription] // members, for delivery without the lock

	// Owned by the run goroutine.
	started bool
	heads   headTracker
	keys    []string // member order of the serving node's headers
	logs    logTracker
	seen    recent
	failed  map[*upstream.Node]time.Time
}

// window is how many recent heights a feed remembers for linking and
// deduplication; it covers any gap it is allowed to fill.
func window(maxGap int) uint64 { return uint64(max(maxGap, 64)) * 2 }

func newFeed(h *Hub, req request) *feed {
	ctx, cancel := context.WithCancel(h.ctx)
	f := &feed{hub: h, req: req, ctx: ctx, cancel: cancel, ready: make(chan struct{}),
		heads: newHeadTracker(window(h.cfg.MaxGap), h.cfg.MaxGap), logs: newLogTracker(window(h.cfg.MaxGap)),
		seen: newRecent(8192), failed: make(map[*upstream.Node]time.Time)}
	f.subs.Store(&[]*Subscription{})
	return f
}

func (f *feed) attach(s *Subscription) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.members = append(f.members, s)
	if f.timer != nil {
		f.timer.Stop()
		f.timer = nil
	}
	f.publish()
	f.gauge(f.hub.m.subscribers(), 1)
}

func (f *feed) detach(s *Subscription) {
	f.mu.Lock()
	defer f.mu.Unlock()
	i := slices.Index(f.members, s)
	if i < 0 {
		return
	}
	f.members = slices.Delete(f.members, i, i+1)
	f.publish()
	f.gauge(f.hub.m.subscribers(), -1)
	if len(f.members) == 0 && !f.closing {
		f.timer = time.AfterFunc(f.hub.cfg.Grace, f.expire)
	}
}

// expire closes the feed when it still has no subscriber after the grace.
func (f *feed) expire() {
	f.hub.mu.Lock()
	defer f.hub.mu.Unlock()
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.members) > 0 || f.closing {
		return
	}
	f.closing = true
	if f.hub.feeds[f.req.key] == f {
		delete(f.hub.feeds, f.req.key)
	}
	f.cancel()
}

// publish makes the member list visible to delivery; the caller holds mu.
func (f *feed) publish() {
	list := slices.Clone(f.members)
	f.subs.Store(&list)
}

// deliver hands a notification to every subscriber.
func (f *feed) deliver(result []byte) {
	list := *f.subs.Load()
	for _, s := range list {
		s.sink.Deliver(result)
	}
	if m := f.hub.m; m != nil && len(list) > 0 {
		m.Notifications.WithLabelValues(f.hub.network, f.req.kind.String()).Add(float64(len(list)))
	}
}

// run keeps an upstream subscription open on the best node until the feed
// is closed.
func (f *feed) run() {
	defer f.hub.wg.Done()
	defer f.cancel()
	backoff := 100 * time.Millisecond
	for f.ctx.Err() == nil {
		n, st, err := f.open()
		if err == nil {
			err = f.resync(n)
			if err != nil {
				st.Close()
				f.failed[n] = time.Now()
			}
		}
		if err != nil {
			if !f.started {
				f.err = err
				close(f.ready)
				f.hub.remove(f)
				return
			}
			f.hub.log.Warn("subscription has no node", "kind", f.req.kind.String(), "err", err)
			if !sleep(f.ctx, backoff) {
				return
			}
			backoff = min(2*backoff, 5*time.Second)
			continue
		}
		backoff = 100 * time.Millisecond
		if !f.started {
			f.started = true
			f.gauge(f.hub.m.feeds(), 1)
			defer f.gauge(f.hub.m.feeds(), -1)
			close(f.ready)
		}
		reason, err := f.consume(n, st)
		st.Close()
		if f.ctx.Err() != nil {
			return
		}
		f.failed[n] = time.Now()
		f.hub.log.Info("moving subscription to another node", "kind", f.req.kind.String(), "node", n.Name, "reason", reason, "err", err)
		if m := f.hub.m; m != nil {
			m.Moves.WithLabelValues(f.hub.network, f.req.kind.String(), reason).Inc()
		}
	}
}

// open subscribes on the first candidate node that accepts.
func (f *feed) open() (*upstream.Node, Stream, error) {
	cands := f.candidates()
	if len(cands) == 0 {
		return nil, nil, f.noNode("no node of network " + f.hub.network + " can serve it")
	}
	var msgs []string
	var nodeErr *NodeError
	for _, n := range cands {
		st, err := f.openOn(n)
		if err == nil {
			return n, st, nil
		}
		f.failed[n] = time.Now()
		if !errors.As(err, &nodeErr) {
			msgs = append(msgs, err.Error())
		}
	}
	if nodeErr != nil {
		return nil, nil, nodeErr // e.g. a filter every node rejects: the client sees the node's answer
	}
	return nil, nil, f.noNode("no node could open it: " + strings.Join(msgs, "; "))
}

func (f *feed) noNode(why string) error {
	msg := "cannot subscribe to " + f.req.name + ": " + why
	if !f.req.kind.pollable() {
		msg += " (" + f.req.name + " needs a node with a ws_endpoint)"
	}
	return jsonrpc.NewError(jsonrpc.CodeNoNodes, msg)
}

func (f *feed) openOn(n *upstream.Node) (Stream, error) {
	if n.WSURL == "" {
		if !f.req.kind.pollable() {
			return nil, ErrNoWebSocket
		}
		return poll(f.ctx, &f.hub.wg, n, &f.req, f.hub.cfg.PollInterval, f.hub.cfg.CallTimeout, f.hub.cfg.MaxGap)
	}
	ctx, cancel := context.WithTimeout(f.ctx, f.hub.cfg.CallTimeout)
	defer cancel()
	return f.hub.streams.Subscribe(ctx, n, f.req.params)
}

// candidates lists the nodes to try, best first: eligible nodes (or, when
// none is, the rest) whose methods lists admit the feed's calls, those with
// WebSocket before those that can only be polled, and nodes that failed
// recently last.
func (f *feed) candidates() []*upstream.Node {
	v := f.hub.pool.View()
	nodes := append(slices.Clone(v.Active), v.Backup...)
	if len(nodes) == 0 {
		nodes = slices.Clone(v.Rest)
	}
	nodes = slices.DeleteFunc(nodes, func(n *upstream.Node) bool {
		return n.WSURL == "" && !f.req.kind.pollable() || !f.admits(n)
	})
	now := time.Now()
	rank := func(n *upstream.Node) int {
		r := 0
		if n.WSURL == "" {
			r++
		}
		if t, ok := f.failed[n]; ok && now.Sub(t) < cooldown {
			r += 2
		}
		return r
	}
	slices.SortStableFunc(nodes, func(a, b *upstream.Node) int { return rank(a) - rank(b) })
	return nodes
}

// consume delivers the stream's events until it ends, the node should be
// left, or the feed closes. It returns the reason (a metrics label).
func (f *feed) consume(n *upstream.Node, st Stream) (string, error) {
	t := time.NewTicker(f.hub.cfg.CheckInterval)
	defer t.Stop()
	f.keys = nil
	for {
		select {
		case <-f.ctx.Done():
			return "closed", nil
		case ev, ok := <-st.Events():
			if !ok {
				return "stream_ended", st.Err()
			}
			if err := f.handle(n, ev); err != nil {
				return "fetch_failed", err
			}
		case <-t.C:
			if why := f.leave(n); why != "" {
				return why, nil
			}
		}
	}
}

// admits reports whether n's methods lists admit what the feed asks of
// it: eth_subscribe, and the calls that poll it or fill its gaps
// (eth_getBlockByNumber; eth_getLogs for logs).
func (f *feed) admits(n *upstream.Node) bool {
	return n.Admits("eth_subscribe") && n.Admits("eth_getBlockByNumber") && n.Admits("eth_blockNumber") &&
		(f.req.kind != Logs || n.Admits("eth_getLogs"))
}

// leave says why the feed should move off n, or "".
func (f *feed) leave(n *upstream.Node) string {
	v := f.hub.pool.View()
	others := slices.ContainsFunc(append(slices.Clone(v.Active), v.Backup...), func(o *upstream.Node) bool {
		return o != n && (o.WSURL != "" || f.req.kind.pollable()) && f.admits(o)
	})
	switch {
	case !v.Eligible(n) && others:
		return "not_eligible"
	case !f.admits(n) && others:
		return "methods_list" // a reload made its lists refuse eth_subscribe
	case n.WSURL == "" && slices.ContainsFunc(append(slices.Clone(v.Active), v.Backup...), func(o *upstream.Node) bool { return o.WSURL != "" }):
		return "websocket_available"
	}
	return ""
}

func (f *feed) gauge(g gaugeFunc, d float64) {
	if g != nil {
		g(f.hub.network, f.req.kind.String(), d)
	}
}

type gaugeFunc func(network, kind string, d float64)

func (m *Metrics) feeds() gaugeFunc {
	if m == nil {
		return nil
	}
	return func(n, k string, d float64) { m.Feeds.WithLabelValues(n, k).Add(d) }
}

func (m *Metrics) subscribers() gaugeFunc {
	if m == nil {
		return nil
	}
	return func(n, k string, d float64) { m.Subscribers.WithLabelValues(n, k).Add(d) }
}

// count adds v to the feed's series of the counter c picks.
func (f *feed) count(c func(*Metrics) *prometheus.CounterVec, v int) {
	if m := f.hub.m; m != nil && v > 0 {
		c(m).WithLabelValues(f.hub.network, f.req.kind.String()).Add(float64(v))
	}
}

func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
