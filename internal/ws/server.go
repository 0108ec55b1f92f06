package ws

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"
	"github.com/evmgate/evmgate/internal/access"
	"github.com/evmgate/evmgate/internal/balancer"
	"github.com/evmgate/evmgate/internal/proxy"
	"github.com/evmgate/evmgate/internal/subs"
	"github.com/evmgate/evmgate/internal/upstream"
	"github.com/prometheus/client_golang/prometheus"
)

// Server serves JSON-RPC over WebSocket on the networks' RPC paths and
// holds the shared WebSocket connections to the nodes.
type Server struct {
	cfg  Config
	h    *proxy.Handler
	log  *slog.Logger
	m    *metrics
	subm *subs.Metrics

	mu      sync.Mutex // protects clients, upgrading, hubs, upstreams, removed, closed, draining
	clients map[*client]struct{}
	// upgrading counts admitted connections not yet in clients (their
	// handshake under way): they count against max_connections too.
	upgrading int
	// removed are the pools of networks a reload removed: a connection
	// whose upgrade began before the removal and ended after it is sent
	// away like those the removal found.
	removed   map[*balancer.Pool]struct{}
	conns     atomic.Uint64 // connections opened: names anonymous clients
	hubs      map[hubKey]*subs.Hub
	upstreams map[string]*upstreamConn
	closed    bool
	draining  bool           // no new client connections
	wg        sync.WaitGroup // Upgrade calls in progress
}

type hubKey struct {
	name string
	pool *balancer.Pool
}

// New returns a server answering calls through h; unset keys of cfg take
// their defaults. Collectors are registered on reg.
func New(cfg Config, h *proxy.Handler, log *slog.Logger, reg prometheus.Registerer) (*Server, error) {
	cfg.Default()
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("websocket config: %w", err)
	}
	m, err := newMetrics(reg)
	if err != nil {
		return nil, err
	}
	sm, err := subs.NewMetrics(reg)
	if err != nil {
		return nil, err
	}
	return &Server{cfg: cfg, h: h, log: log.With("component", "ws"), m: m, subm: sm,
		clients: make(map[*client]struct{}), hubs: make(map[hubKey]*subs.Hub), upstreams: make(map[string]*upstreamConn)}, nil
}

// Upgrade serves one client WebSocket on network n (plug it into
// proxy.Handler.Upgrade). It returns when the connection is closed.
func (s *Server) Upgrade(w http.ResponseWriter, r *http.Request, n *proxy.Network) {
	if reason, msg := s.admit(); reason != "" {
		s.m.rejected.WithLabelValues(reason).Inc()
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusServiceUnavailable)
		b, _ := json.Marshal(map[string]string{"error": msg})
		_, _ = w.Write(append(b, '\n'))
		return
	}
	defer s.wg.Done()
	tracked := false
	defer func() {
		if !tracked {
			s.untrack(nil) // the upgrade failed: give its slot back
		}
	}()
	opts := &websocket.AcceptOptions{CompressionMode: websocket.CompressionDisabled, OriginPatterns: s.cfg.AllowedOrigins}
	if len(s.cfg.AllowedOrigins) == 0 {
		// Without allowed_origins, a page of another site may connect
		// only when CORS lets it read the answers over HTTP: otherwise any
		// page a user opens could send calls to a gateway on their machine
		// or network. Clients that are not browsers send no Origin.
		if origin := r.Header.Get("Origin"); origin != "" && !sameHost(origin, r.Host) &&
			!s.h.OriginAllowed(origin, n.Name, access.CallerFrom(r.Context())) {
			s.m.rejected.WithLabelValues("origin").Inc()
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusForbidden)
			b, _ := json.Marshal(map[string]string{"error": "origin " + strconv.Quote(access.Clip(origin)) +
				" may not open a WebSocket here: add it to websocket.allowed_origins, or to access.cors_origins (the network's or the key's)"})
			_, _ = w.Write(append(b, '\n'))
			return
		}
		opts.InsecureSkipVerify = true // checked above
	}
	conn, err := websocket.Accept(w, r, opts)
	if err != nil {
		s.m.rejected.WithLabelValues("handshake").Inc()
		return // Accept wrote the HTTP error
	}
	// The caller's key caps the class and names the client, as over HTTP.
	caller := access.CallerFrom(r.Context())
	c := newClient(r.Context(), s, conn, n, s.hub(n), caller.Class(r.Header))
	c.id = proxy.ClientOf(r.Header, caller.Name())
	if c.id == "" {
		// The connection is the client; a header value cannot hold a NUL,
		// so no X-Client-ID names it.
		c.id = "\x00ws-" + strconv.FormatUint(s.conns.Add(1), 10)
	}
	if reason := s.track(c); reason != "" {
		conn.Close(websocket.StatusGoingAway, reason)
		return
	}
	tracked = true
	s.m.connections.WithLabelValues(n.Name).Inc()
	c.serve()
	s.m.connections.WithLabelValues(n.Name).Dec()
	s.untrack(c)
}

// admit counts a new connection, or says why it is refused.
func (s *Server) admit() (reason, msg string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case s.closed || s.draining:
		return "shutdown", "the gateway is shutting down"
	case len(s.clients)+s.upgrading >= s.cfg.MaxConnections:
		return "max_connections", "too many WebSocket connections: the limit is websocket.max_connections = " +
			strconv.Itoa(s.cfg.MaxConnections) + "; retry later or use HTTP"
	}
	s.upgrading++
	s.wg.Add(1)
	return "", ""
}

// track adds c to the open connections, or says why it may not stay.
func (s *Server) track(c *client) (refused string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return "server shutting down"
	}
	// A connection whose upgrade began before a reload removed its
	// network and ended after it is sent away like those the removal
	// found: the handler no longer serves its network.
	if now := s.h.Network(c.net.Name); now == nil || now.Pool != c.net.Pool {
		return removedReason
	}
	s.upgrading--
	s.clients[c] = struct{}{}
	return ""
}

// untrack removes c from the open connections; nil gives back the slot of
// an admitted connection that was never tracked.
func (s *Server) untrack(c *client) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if c == nil {
		s.upgrading--
		return
	}
	delete(s.clients, c)
}

// Connections returns the number of open client connections.
func (s *Server) Connections() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.clients)
}

// hub returns the subscription hub of n.
func (s *Server) hub(n *proxy.Network) *subs.Hub {
	s.mu.Lock()
	defer s.mu.Unlock()
	k := hubKey{n.Name, n.Pool}
	if h := s.hubs[k]; h != nil {
		return h
	}
	timeout := n.TryTimeout
	if timeout <= 0 {
		timeout = 5 * time.Second
	}
	h := subs.NewHub(subs.Config{
		Grace: s.cfg.UnsubscribeGrace.D(), PollInterval: s.cfg.PollInterval.D(), CallTimeout: timeout,
		CheckInterval: checkInterval, MaxGap: s.cfg.MaxGapBlocks,
	}, n.Name, n.Pool, s, s.log, s.subm)
	s.hubs[k] = h
	return h
}

// checkInterval is how often a subscription checks that its node is still
// eligible.
const checkInterval = 500 * time.Millisecond

// upstream returns the shared connection to the node of spec, or nil when
// the node has no ws_endpoint.
func (s *Server) upstream(spec upstream.Spec) *upstreamConn {
	if spec.WSURL == "" {
		return nil
	}
	k := spec.Network + "\x00" + spec.Name + "\x00" + spec.WSURL
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil
	}
	u := s.upstreams[k]
	if u == nil {
		u = newUpstreamConn(spec, s.cfg.PingInterval.D(), s.log, s.m)
		s.upstreams[k] = u
	}
	return u
}

// Subscribe implements subs.Streamer over the node's shared connection.
func (s *Server) Subscribe(ctx context.Context, n *upstream.Node, params []byte) (subs.Stream, error) {
	u := s.upstream(n.Spec)
	if u == nil {
		return nil, subs.ErrNoWebSocket
	}
	return u.Subscribe(ctx, params)
}

// Transport returns an http.RoundTripper that carries a node's HTTP
// JSON-RPC calls over its shared WebSocket connection (client HTTP → node
// WebSocket), or nil when spec has no ws_endpoint.
func (s *Server) Transport(spec upstream.Spec) http.RoundTripper {
	if u := s.upstream(spec); u != nil {
		return u
	}
	return nil
}

// Close closes every client connection, every subscription and every node
// connection, and waits for them.
func (s *Server) Close() {
	s.mu.Lock()
	s.closed = true
	clients := make([]*client, 0, len(s.clients))
	for c := range s.clients {
		clients = append(clients, c)
	}
	s.mu.Unlock()
	for _, c := range clients {
		c.close(websocket.StatusGoingAway, "server shutting down", "shutdown")
	}
	s.wg.Wait()
	s.mu.Lock()
	hubs, ups := s.hubs, s.upstreams
	s.hubs, s.upstreams = map[hubKey]*subs.Hub{}, map[string]*upstreamConn{}
	s.mu.Unlock()
	for _, h := range hubs {
		h.Close()
	}
	for _, u := range ups {
		u.Close()
	}
}

var _ subs.Streamer = (*Server)(nil)

// sameHost reports whether a page of origin is served by host (the
// request's Host), as the status page is.
func sameHost(origin, host string) bool {
	u, err := url.Parse(origin)
	return err == nil && u.Host != "" && strings.EqualFold(u.Host, host)
}
