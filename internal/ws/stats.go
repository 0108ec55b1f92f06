package ws

import (
	"cmp"
	"slices"

	"github.com/evmgate/evmgate/internal/subs"
)

// NetworkStats is one network's WebSocket traffic now.
type NetworkStats struct {
	Network string `json:"network"`
	// Connections are the open client connections.
	Connections int `json:"connections"`
	// Subscriptions are the clients' eth_subscribe subscriptions.
	Subscriptions int `json:"subscriptions"`
	// UpstreamSubscriptions are the subscriptions open on nodes, each
	// shared by every client subscription with the same kind and filter.
	UpstreamSubscriptions int `json:"upstream_subscriptions"`
	// UpstreamConnections are the open WebSocket connections to the
	// network's nodes (one per node at most).
	UpstreamConnections int `json:"upstream_connections"`
}

// Stats returns the WebSocket traffic per network, for the status page.
// Networks with no traffic at all are left out.
func (s *Server) Stats() []NetworkStats {
	by := map[string]*NetworkStats{}
	at := func(name string) *NetworkStats {
		if by[name] == nil {
			by[name] = &NetworkStats{Network: name}
		}
		return by[name]
	}
	s.mu.Lock()
	for c := range s.clients {
		at(c.net.Name).Connections++
	}
	hubs := make(map[hubKey]*subs.Hub, len(s.hubs))
	for k, h := range s.hubs {
		hubs[k] = h
	}
	ups := make([]*upstreamConn, 0, len(s.upstreams))
	for _, u := range s.upstreams {
		ups = append(ups, u)
	}
	s.mu.Unlock()

	// The hubs and node connections have their own locks: they are read
	// without holding the server's.
	for k, h := range hubs {
		st := at(k.name)
		st.Subscriptions += h.Subscribers()
		st.UpstreamSubscriptions += h.Feeds()
	}
	for _, u := range ups {
		if u.open() {
			at(u.spec.Network).UpstreamConnections++
		}
	}
	out := make([]NetworkStats, 0, len(by))
	for _, st := range by {
		out = append(out, *st)
	}
	slices.SortFunc(out, func(a, b NetworkStats) int { return cmp.Compare(a.Network, b.Network) })
	return out
}

// open reports whether the connection to the node is up now.
func (u *upstreamConn) open() bool {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.conn != nil
}
