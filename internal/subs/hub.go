package subs

import (
	"context"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/evmgate/evmgate/internal/balancer"
	"github.com/evmgate/evmgate/internal/jsonrpc"
)

// Config tunes a hub.
type Config struct {
	// Grace is how long an upstream subscription outlives its last subscriber.
	Grace time.Duration
	// PollInterval is how often a node without WebSocket is polled.
	PollInterval time.Duration
	// CallTimeout bounds one call to a node (gap fill, polling, subscribe).
	CallTimeout time.Duration
	// CheckInterval is how often a feed checks that its node is still eligible.
	CheckInterval time.Duration
	// MaxGap is the most blocks fetched to fill one gap.
	MaxGap int
}

const (
	// streamBuffer is the room for notifications between a stream and its feed.
	streamBuffer = 1024
	// cooldown keeps a node that just failed a feed at the end of its list.
	cooldown = 5 * time.Second
)

// Hub serves the subscriptions of one network.
type Hub struct {
	cfg     Config
	network string
	pool    *balancer.Pool
	streams Streamer
	log     *slog.Logger
	m       *Metrics
	ctx     context.Context
	cancel  context.CancelFunc
	wg      sync.WaitGroup // feed goroutines and polling streams

	mu     sync.Mutex // protects feeds, closed
	feeds  map[string]*feed
	closed bool
}

// NewHub returns the hub of a network whose nodes are in pool. m may be nil.
func NewHub(cfg Config, network string, pool *balancer.Pool, st Streamer, log *slog.Logger, m *Metrics) *Hub {
	ctx, cancel := context.WithCancel(context.Background())
	return &Hub{cfg: cfg, network: network, pool: pool, streams: st, log: log.With("network", network),
		m: m, ctx: ctx, cancel: cancel, feeds: make(map[string]*feed)}
}

// Subscription is one client subscription.
type Subscription struct {
	feed   *feed
	sink   Sink
	closed atomic.Bool
}

// Kind returns what the subscription delivers.
func (s *Subscription) Kind() Kind { return s.feed.req.kind }

// Close ends the subscription. The upstream subscription closes after the
// grace period when no one else uses it.
func (s *Subscription) Close() {
	if s.closed.Swap(true) {
		return
	}
	s.feed.detach(s)
}

var errHubClosed = jsonrpc.NewError(jsonrpc.CodeNoNodes, "the gateway is shutting down")

// Subscribe starts delivering to sink what eth_subscribe(params) asks for.
// It returns once the upstream subscription is open, or with the reason it
// could not be opened: a *jsonrpc.Error of the gateway or a *NodeError.
func (h *Hub) Subscribe(ctx context.Context, params []byte, sink Sink) (*Subscription, error) {
	req, perr := parseRequest(params)
	if perr != nil {
		return nil, perr
	}
	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		return nil, errHubClosed
	}
	f := h.feeds[req.key]
	if f == nil {
		f = newFeed(h, req)
		h.feeds[req.key] = f
		h.wg.Add(1)
		go f.run()
	}
	s := &Subscription{feed: f, sink: sink}
	f.attach(s)
	h.mu.Unlock()

	select {
	case <-f.ready:
	case <-ctx.Done():
		s.Close()
		return nil, ctx.Err()
	}
	if f.err != nil {
		s.Close()
		return nil, f.err
	}
	return s, nil
}

// remove forgets f if it is still the hub's feed for its key.
func (h *Hub) remove(f *feed) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.feeds[f.req.key] == f {
		delete(h.feeds, f.req.key)
	}
	f.mu.Lock()
	f.closing = true
	f.mu.Unlock()
}

// Feeds returns the number of open upstream subscriptions.
func (h *Hub) Feeds() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.feeds)
}

// Close ends every feed and waits for their goroutines.
func (h *Hub) Close() {
	h.mu.Lock()
	h.closed = true
	for _, f := range h.feeds {
		f.mu.Lock()
		f.closing = true
		if f.timer != nil {
			f.timer.Stop()
		}
		f.mu.Unlock()
	}
	h.mu.Unlock()
	h.cancel()
	h.wg.Wait()
}
