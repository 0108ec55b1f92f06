package engine

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Mux is the Engine API multiplexer. Build it with New, serve Handler on the
// engine listener, call Start for background node probes and Close to stop.
type Mux struct {
	cfg      Config
	dur      durations
	rule     Rule
	log      *slog.Logger
	metrics  *metrics
	verifier *Verifier
	client   *http.Client
	payloads *payloadMap
	now      func() time.Time

	nodes      atomic.Pointer[[]*node] // immutable slice, replaced by add_nodes
	addMu      sync.Mutex              // serialises add_nodes against each other and Close
	dispatchMu sync.Mutex              // makes queueing one call on every node atomic
	callID     atomic.Uint64
	recheckNow chan struct{}

	ctx     context.Context // cancelled by Close; parent of every background call
	cancel  context.CancelFunc
	wg      sync.WaitGroup // per-node queues and the recheck loop
	started atomic.Bool
	closed  atomic.Bool

	// traceFanOut, when set before serving, receives every fanned-out call's
	// slowest voter round trip (used to measure the gateway's own cost).
	traceFanOut func(method string, slowestVoter time.Duration)
}

// New builds a Mux from cfg (defaults are applied, then it is validated as if
// enabled). log may be nil; reg may be nil, in which case metrics are kept on
// a private registry. New starts one goroutine per node for ordered calls;
// Close stops them.
func New(cfg Config, log *slog.Logger, reg prometheus.Registerer) (*Mux, error) {
	cfg.Default()
	check := cfg
	check.Enabled = true
	if err := check.Validate(); err != nil {
		return nil, fmt.Errorf("validating engine config: %w", err)
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if reg == nil {
		reg = prometheus.NewRegistry()
	}
	met, err := newMetrics(reg)
	if err != nil {
		return nil, fmt.Errorf("registering engine metrics: %w", err)
	}
	secret, err := LoadSecret(cfg.JWTSecretPath)
	if err != nil {
		return nil, fmt.Errorf("loading engine jwt secret: %w", err)
	}
	m := &Mux{
		cfg: cfg, dur: cfg.durations(),
		rule:       Rule{Majority: cfg.FCUMajority, MinAgree: cfg.MinAgree},
		log:        log.With("component", "engine"),
		metrics:    met,
		verifier:   NewVerifier(secret, nil),
		client:     &http.Client{Transport: newTransport()},
		payloads:   newPayloadMap(payloadTTL, payloadMaxKeep, nil, nil),
		now:        time.Now,
		recheckNow: make(chan struct{}, 1),
	}
	nodes := make([]*node, 0, len(cfg.Nodes))
	for i, nc := range cfg.Nodes {
		n, err := newNode(i, nc, secret, m.dur.node)
		if err != nil {
			return nil, err
		}
		nodes = append(nodes, n)
	}
	m.ctx, m.cancel = context.WithCancel(context.Background())
	m.nodes.Store(&nodes)
	for _, n := range nodes {
		m.startNode(n)
	}
	return m, nil
}

func (m *Mux) startNode(n *node) {
	m.metrics.setNodeState(n.name, n.getState())
	m.setVoting(n)
	m.wg.Add(1)
	go m.runQueue(n)
}

// Start launches the background probes: every node at once, then every
// recheck_interval and right after any failed call. They stop when ctx ends
// or on Close. Start may be called once.
func (m *Mux) Start(ctx context.Context) error {
	if m.closed.Load() {
		return errors.New("starting engine mux: closed")
	}
	if !m.started.CompareAndSwap(false, true) {
		return errors.New("starting engine mux: already started")
	}
	loopCtx, cancel := context.WithCancel(m.ctx)
	m.wg.Add(1)
	go func() {
		defer cancel()
		stop := context.AfterFunc(ctx, cancel)
		defer stop()
		m.recheckLoop(loopCtx)
	}()
	return nil
}

// Close stops every goroutine of the Mux and waits for them. Calls still in
// flight to nodes are cancelled. It is safe to call more than once.
func (m *Mux) Close() error {
	m.addMu.Lock() // no node starts after this
	first := m.closed.CompareAndSwap(false, true)
	m.addMu.Unlock()
	if !first {
		return nil
	}
	m.cancel()
	m.wg.Wait()
	m.client.CloseIdleConnections()
	return nil
}

// Handler serves the consensus client and the status API:
//
//	POST /            JSON-RPC, single or batch; JWT required
//	GET  /metrics     executionbackup's JSON node report
//	GET  /recheck     probe every node now, then report (admin token)
//	POST /add_nodes   add nodes at run time (admin token)
func (m *Mux) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /{$}", m.serveRPC)
	mux.HandleFunc("GET /metrics", m.serveStatus)
	mux.HandleFunc("GET /recheck", m.admin(m.serveRecheck))
	mux.HandleFunc("POST /add_nodes", m.admin(m.serveAddNodes))
	return mux
}
