package ws

import (
	"context"
	"time"

	"github.com/coder/websocket"
	"github.com/evmgate/evmgate/internal/balancer"
	"github.com/evmgate/evmgate/internal/subs"
)

// drainTick is how often a drain looks again at connections that still
// have calls in flight.
const drainTick = 20 * time.Millisecond

// Drain ends every client connection gracefully, for a shutdown: new
// upgrades are refused (HTTP 503), and each connection gets a "going away"
// close frame (1001) once the calls it has in flight are answered, so its
// client reconnects elsewhere without losing an answer. Subscriptions keep
// delivering until then. Drain returns when every connection has closed,
// or when ctx ends; Close ends whatever is left.
func (s *Server) Drain(ctx context.Context) {
	s.mu.Lock()
	s.draining = true
	s.mu.Unlock()
	s.goAway(ctx, nil, "server shutting down", "shutdown")
	done := make(chan struct{})
	go func() { s.wg.Wait(); close(done) }() // ends with the last connection, at the latest in Close
	select {
	case <-done:
	case <-ctx.Done():
	}
}

// removedReason is the close reason of a removed network's connections.
const removedReason = "network removed from the configuration"

// DrainNetwork ends the client connections of a network that a
// configuration reload removed (the network that pool served), as Drain
// does, then closes its subscription hub. It returns once every connection
// has its close frame queued, or ctx ended.
func (s *Server) DrainNetwork(ctx context.Context, pool *balancer.Pool) {
	s.goAway(ctx, pool, removedReason, "network_removed")
	var hubs []*subs.Hub
	s.mu.Lock()
	for k, h := range s.hubs {
		if k.pool == pool {
			delete(s.hubs, k)
			hubs = append(hubs, h)
		}
	}
	s.mu.Unlock()
	for _, h := range hubs {
		h.Close()
	}
}

// goAway queues a going-away close frame on every connection (of pool's
// network, or all when pool is nil) as soon as it has no call in flight,
// and waits until every frame is queued or ctx ends.
func (s *Server) goAway(ctx context.Context, pool *balancer.Pool, reason, label string) {
	s.mu.Lock()
	var pending []*client
	for c := range s.clients {
		if pool == nil || c.net.Pool == pool {
			pending = append(pending, c)
		}
	}
	s.mu.Unlock()
	frame := &closeFrame{websocket.StatusGoingAway, reason, label}
	t := time.NewTicker(drainTick)
	defer t.Stop()
	for len(pending) > 0 {
		rest := pending[:0]
		for _, c := range pending {
			// Answers are queued before their call's token is returned, so
			// the frame goes out after them.
			if len(c.calls) > 0 || !c.out.tryPush(outgoing{closing: frame}) {
				rest = append(rest, c)
			}
		}
		pending = rest
		if len(pending) == 0 {
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
