package gateway

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/evmgate/evmgate/internal/access"
	"github.com/evmgate/evmgate/internal/attest"
	"github.com/evmgate/evmgate/internal/cache"
	"github.com/evmgate/evmgate/internal/config"
	"github.com/evmgate/evmgate/internal/connlimit"
	"github.com/evmgate/evmgate/internal/engine"
	"github.com/evmgate/evmgate/internal/logsplit"
	"github.com/evmgate/evmgate/internal/metrics"
	"github.com/evmgate/evmgate/internal/nodeurl"
	"github.com/evmgate/evmgate/internal/proxy"
	"github.com/evmgate/evmgate/internal/registry"
	"github.com/evmgate/evmgate/internal/restapi"
	"github.com/evmgate/evmgate/internal/rpcserver"
	"github.com/evmgate/evmgate/internal/sharedlimit"
	"github.com/evmgate/evmgate/internal/tracing"
	"github.com/evmgate/evmgate/internal/upstream"
	"github.com/evmgate/evmgate/internal/ws"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/redis/go-redis/v9"
)

// Gateway is a running evmgate.
type Gateway struct {
	cfg     *config.Config // the configuration at start: listeners, admin, engine
	log     *slog.Logger
	reg     *prometheus.Registry
	metrics *metrics.Metrics
	nets    atomic.Pointer[[]*network] // a reload swaps the list
	handler *proxy.Handler
	rest    *restapi.Handler // the REST routes in front of handler
	ws      *ws.Server
	events  *events

	reloadMu sync.Mutex                    // serialises Reload
	live     atomic.Pointer[config.Config] // the configuration in force
	draining atomic.Bool                   // shutting down: /ready answers 503
	retire   retirements                   // networks a reload removed, finishing their calls
	attest   *attest.Verifier              // checks attested nodes' certificates
	cache    *cache.Store                  // nil: cache.enabled is false
	logs     *logsplit.Metrics             // the eth_getLogs splitters' counters
	history  *history                      // the status page's charts
	access   *access.Access                // who may call what, how often
	// redis is the client of shared rate limits and runtime keys; nil
	// without admin.redis_url.
	redis *redis.Client
	// limits leases the tokens of nodes with a shared rate limit; nil
	// without Redis.
	limits *sharedlimit.Leaser

	rpcLn, metricsLn net.Listener
	rpcSrv           *rpcserver.Server
	metricsSrv       *http.Server
	registry         *registry.Registry
	adminLn          net.Listener
	adminSrv         *http.Server
	engine           *engine.Mux
	engineLn         net.Listener
	engineSrv        *http.Server
	tls              listenerTLS        // certificates of the listeners that serve TLS
	conns            *connlimit.Metrics // the JSON-RPC listener's connections
	tracer           *tracing.Tracer    // nil: tracing is off
	wg               sync.WaitGroup
}

// New builds the gateway from a validated configuration. Nothing listens
// or probes until Start.
func New(cfg *config.Config, log *slog.Logger) (*Gateway, error) {
	g := &Gateway{cfg: cfg, log: log, reg: prometheus.NewRegistry(), history: newHistory()}
	g.live.Store(cfg)
	g.nets.Store(&[]*network{})
	m, err := metrics.New(g.reg, g.snapshot)
	if err != nil {
		return nil, fmt.Errorf("registering metrics: %w", err)
	}
	g.metrics = m
	if g.conns, err = connlimit.NewMetrics(g.reg); err != nil {
		return nil, fmt.Errorf("registering metrics: %w", err)
	}
	if g.tls, err = loadTLS(cfg, log, g.reg); err != nil {
		return nil, err
	}
	g.events = newEvents(log, m, cfg.LogRateLimit.D(), func(name string) *queued {
		if n := g.network(name); n != nil {
			return n.queue
		}
		return nil
	})
	if g.attest, err = attest.New(cfg.Attestation, attest.Options{}); err != nil {
		return nil, err
	}
	// The WebSocket server comes first: nodes with http_over_ws send their
	// calls over its shared upstream connections.
	g.handler = proxy.New(proxyOptions(cfg), nil, log, m)
	on, envOff := tracing.On(cfg.Tracing.Enabled, os.LookupEnv)
	if envOff {
		log.Warn("tracing is off: OTEL_SDK_DISABLED=true overrides tracing.enabled")
	}
	if on {
		if g.tracer, err = tracing.New(TracingOptions(cfg), log); err != nil {
			return nil, fmt.Errorf("tracing: %w", err)
		}
		g.handler.SetTracer(g.tracer)
	}
	if len(cfg.Networks) == 0 {
		// The Engine API multiplexer alone: no RPC listener, no registry,
		// no probes of RPC nodes.
		return g, nil
	}
	if g.ws, err = ws.New(cfg.WebSocket, g.handler, log, g.reg); err != nil {
		return nil, err
	}
	var nets []*network
	if err := g.buildLimits(); err != nil {
		return nil, err
	}
	if err := g.buildCache(); err != nil {
		return nil, err
	}
	if g.logs, err = logsplit.NewMetrics(g.reg); err != nil {
		return nil, err
	}
	for _, nc := range cfg.Networks {
		n, err := buildNetwork(nc, cfg.Scheduler, g.events, g)
		if err != nil {
			return nil, err
		}
		nets = append(nets, n)
	}
	g.nets.Store(&nets)
	g.registry, err = registry.New(cfg.Admin, seed(cfg), g, log, g.reg)
	if err != nil {
		return nil, fmt.Errorf("node registry: %w", err)
	}
	g.handler.SetNetworks(proxyNetworks(nets))
	if err := g.buildAccess(); err != nil {
		return nil, err
	}
	g.handler.Upgrade = g.ws.Upgrade
	if g.rest, err = restapi.New(g.handler, restapi.Networks(cfg), g.reg); err != nil {
		return nil, err
	}
	return g, nil
}

// Start listens, runs the first round of probes and serves. It returns once
// the gateway answers.
func (g *Gateway) Start(ctx context.Context) error {
	if len(g.networks()) == 0 {
		return g.startEngineOnly(ctx)
	}
	rpcLn, err := listen(g.cfg.ListenAddr, int(g.cfg.Port), "JSON-RPC", "listen_addr, port")
	if err != nil {
		return err
	}
	var metricsLn net.Listener
	if g.cfg.MetricsPort > 0 {
		metricsLn, err = listen(g.cfg.MetricsAddr, int(g.cfg.MetricsPort), "metrics", "metrics_addr, metrics_port")
		if err != nil {
			rpcLn.Close()
			return err
		}
	}
	if err := g.startEngine(ctx, g.cfg.Engine.ListenAddr); err != nil {
		rpcLn.Close()
		if metricsLn != nil {
			metricsLn.Close()
		}
		return err
	}
	return g.Serve(ctx, rpcLn, metricsLn)
}

// listen opens a listener; its error names the configuration keys to change.
func listen(host string, port int, what, keys string) (net.Listener, error) {
	ln, err := net.Listen("tcp", net.JoinHostPort(host, strconv.Itoa(port)))
	if err != nil {
		return nil, fmt.Errorf("listening for %s (%s): %w: stop what holds it or choose another in the configuration", what, keys, err)
	}
	return ln, nil
}

// Serve runs the first round of probes and serves on the given listeners
// (metricsLn may be nil). It returns once the gateway answers.
func (g *Gateway) Serve(ctx context.Context, rpcLn, metricsLn net.Listener) error {
	g.rpcLn, g.metricsLn = rpcLn, metricsLn
	if len(g.networks()) > 0 {
		if err := g.registry.Start(ctx); err != nil {
			return fmt.Errorf("node registry: %w", err)
		}
		if err := g.startAccess(ctx); err != nil {
			return err
		}
		if g.limits != nil {
			g.limits.Start()
		}
		if err := g.startAdmin(); err != nil {
			return err
		}
	}
	var wg sync.WaitGroup
	for _, n := range g.networks() {
		wg.Add(1)
		go func() { defer wg.Done(); n.monitor.Start(ctx) }()
	}
	wg.Wait()
	g.history.start(g.read)

	g.rpcSrv = g.newRPCServer()
	g.serveRPC(g.rpcSrv, g.limitRPC(g.rpcLn))
	if g.metricsLn != nil {
		g.metricsSrv = g.newServer(g.adminMux(true), g.tls.rpc)
		g.serve(g.metricsSrv, g.metricsLn)
	}
	started := []any{"rpc", g.RPCURL(), "metrics", g.MetricsURL(), "admin", g.AdminURL(), "networks", len(g.networks())}
	if g.tracer != nil {
		// Where the spans go, without the URL's credentials, query and
		// fragment, which may be secrets; the export headers never show.
		started = append(started, "tracing_endpoint", nodeurl.Redact(g.tracer.Endpoint()), "tracing_sample_rate", *g.cfg.Tracing.SampleRate,
			"tracing_trust_incoming", g.cfg.Tracing.TrustIncoming)
	}
	g.log.Info("gateway started", started...)
	return nil
}

// TracingOptions are the tracer's options from the configuration's
// tracing section.
func TracingOptions(cfg *config.Config) tracing.Options {
	tc := cfg.Tracing
	return tracing.Options{Endpoint: tc.Endpoint, SampleRate: *tc.SampleRate, ServiceName: tc.ServiceName, Headers: tc.Headers,
		TrustIncoming: tc.TrustIncoming}
}

// tracerFlush bounds the sending of the last spans on shutdown.
const tracerFlush = 3 * time.Second

// RPCHandler is the JSON-RPC handler with the status endpoints beside it.
func (g *Gateway) RPCHandler() http.Handler {
	mux := g.adminMux(false)
	var root http.Handler = g.handler
	if g.rest != nil {
		root = g.rest // the REST routes of networks with rest_api; JSON-RPC on every other path
	}
	mux.Handle("/", g.handler.Compress(root))
	if g.cfg.Admin.OnRPC && g.registry != nil {
		admin := g.registry.Handler(g.adminRoutes()...)
		mux.Handle("/nodes", admin)
		mux.Handle("/admin/", admin)
	}
	return mux
}

// Proxy returns the JSON-RPC handler.
func (g *Gateway) Proxy() *proxy.Handler { return g.handler }

// RPCURL is the JSON-RPC listener's base URL.
func (g *Gateway) RPCURL() string { return urlOf(g.rpcLn, g.tls.rpc) }

// MetricsURL is the metrics listener's base URL ("" when off).
func (g *Gateway) MetricsURL() string { return urlOf(g.metricsLn, g.tls.rpc) }

// Registry returns the Prometheus registry.
func (g *Gateway) Registry() *prometheus.Registry { return g.reg }

// Nodes returns the nodes of a network (nil when unknown).
func (g *Gateway) Nodes(network string) []*upstream.Node {
	for _, n := range g.networks() {
		if n.cfg.Name == network {
			return n.pool.Nodes()
		}
	}
	return nil
}

// Close stops the listeners at once and lets the calls in flight finish
// until ctx ends: HTTP calls are answered, and each WebSocket connection
// gets a "going away" close frame once its calls are answered. The calls
// still in flight when ctx ends are answered -32056 (retry on another
// replica), within stopWait (see stopCalls); a WebSocket client gets those
// answers before its close frame. Then it stops the probers and waits.
func (g *Gateway) Close(ctx context.Context) error {
	g.draining.Store(true)
	var errs []error
	g.events.changes.stop() // status long polls answer now
	answered, endAnswers := context.WithCancel(context.WithoutCancel(ctx))
	defer endAnswers()
	unwatch := context.AfterFunc(ctx, func() {
		g.stopCalls()
		time.AfterFunc(stopWait, endAnswers)
	})
	defer unwatch()
	wsDone := make(chan struct{})
	go func() {
		defer close(wsDone)
		if g.ws != nil {
			g.ws.Drain(answered) // WebSocket connections are hijacked: Shutdown does not wait for them
		}
	}()
	if g.rpcSrv != nil {
		err := g.rpcSrv.Shutdown(answered)
		if err != nil && answered.Err() != nil {
			err = ctx.Err() // the caller's deadline, which the answers' time follows
		}
		errs = append(errs, err)
	}
	for _, srv := range []*http.Server{g.metricsSrv, g.engineSrv, g.adminSrv} {
		if srv != nil {
			errs = append(errs, srv.Shutdown(ctx))
		}
	}
	<-wsDone
	g.wg.Wait()
	g.history.Close()
	if g.ws != nil {
		g.ws.Close()
	}
	g.retire.stop()
	g.closeAccess()
	if g.engine != nil {
		errs = append(errs, g.engine.Close())
	}
	if g.registry != nil {
		errs = append(errs, g.registry.Close())
	}
	if g.cache != nil {
		g.cache.Close()
	}
	g.tls.close()
	if g.tracer != nil {
		// The spans of the calls just drained go out within the grace, and
		// within tracerFlush: a collector that does not answer must not
		// hold every rollout for its whole grace.
		fctx, cancel := context.WithTimeout(ctx, tracerFlush)
		errs = append(errs, g.tracer.Shutdown(fctx))
		cancel()
	}
	for _, n := range g.networks() {
		n.queue.s.Close()
		n.monitor.Close()
		n.breakers.Close()
		for _, nd := range n.pool.Nodes() {
			nd.Close()
		}
	}
	return errors.Join(errs...)
}

func (g *Gateway) adminMux(withMetrics bool) *http.ServeMux {
	mux := http.NewServeMux()
	if withMetrics {
		mux.Handle("GET /metrics", promhttp.HandlerFor(g.reg, promhttp.HandlerOpts{Registry: g.reg}))
	}
	mux.HandleFunc("GET /health", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"status":"alive"}` + "\n"))
	})
	mux.HandleFunc("GET /ready", g.serveReadyUnlessDraining)
	mux.HandleFunc("GET /status", g.serveStatus)
	mux.HandleFunc("GET /status/history", g.serveHistory)
	mux.HandleFunc("GET /status/page", serveStatusPage)
	return mux
}

// StartLocal builds and starts a gateway whose listeners (the Engine API's
// too, when enabled) are on 127.0.0.1 with free ports, whatever the
// configuration says (for the demo and tests).
func StartLocal(ctx context.Context, cfg *config.Config, log *slog.Logger) (*Gateway, error) {
	g, err := New(cfg, log)
	if err != nil {
		return nil, err
	}
	rpcLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	metricsLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		rpcLn.Close()
		return nil, err
	}
	if err := g.startEngine(ctx, "127.0.0.1:0"); err != nil {
		rpcLn.Close()
		metricsLn.Close()
		return nil, err
	}
	if err := g.Serve(ctx, rpcLn, metricsLn); err != nil {
		rpcLn.Close()
		metricsLn.Close()
		g.stopEngine()
		return nil, err
	}
	return g, nil
}
