package gateway

import (
	"context"
	"fmt"
	"net"

	"github.com/evmgate/evmgate/internal/engine"
)

// startEngine runs the Engine API multiplexer on its own listener at addr
// when engine.enabled.
func (g *Gateway) startEngine(ctx context.Context, addr string) error {
	if !g.cfg.Engine.Enabled {
		return nil
	}
	mux, err := engine.New(g.cfg.Engine, g.log, g.reg)
	if err != nil {
		return fmt.Errorf("engine: %w", err)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("listening for the Engine API (engine.listen_addr, or --listen-addr and --port): %w: stop what holds it or choose another address", err)
	}
	if err := mux.Start(ctx); err != nil {
		ln.Close()
		return fmt.Errorf("engine: %w", err)
	}
	g.engine, g.engineLn = mux, ln
	g.engineSrv = g.newServer(mux.Handler(), g.tls.engine)
	g.serve(g.engineSrv, ln)
	g.log.Info("engine API multiplexer started", "addr", ln.Addr().String(), "nodes", len(g.cfg.Engine.Nodes))
	return nil
}

// EngineURL is the Engine API listener's base URL ("" when off).
func (g *Gateway) EngineURL() string { return urlOf(g.engineLn, g.tls.engine) }

// startEngineOnly runs the Engine API multiplexer without any RPC network:
// its own listener with executionbackup's status API, and the Prometheus
// metrics listener when metrics_port is set.
func (g *Gateway) startEngineOnly(ctx context.Context) error {
	if err := g.startEngine(ctx, g.cfg.Engine.ListenAddr); err != nil {
		return err
	}
	if g.cfg.MetricsPort <= 0 {
		return nil
	}
	ln, err := listen(g.cfg.MetricsAddr, int(g.cfg.MetricsPort), "metrics", "metrics_addr, metrics_port")
	if err != nil {
		_ = g.Close(ctx)
		return err
	}
	g.metricsLn = ln
	g.metricsSrv = g.newServer(g.adminMux(true), g.tls.rpc)
	g.serve(g.metricsSrv, ln)
	g.log.Info("metrics listener started", "metrics", g.MetricsURL())
	return nil
}

// stopEngine stops a multiplexer started by startEngine, when a later step
// of starting the gateway failed.
func (g *Gateway) stopEngine() {
	if g.engineSrv == nil {
		return
	}
	g.engineSrv.Close()
	g.wg.Wait()
	g.engine.Close()
	g.engine, g.engineSrv, g.engineLn = nil, nil, nil
}
