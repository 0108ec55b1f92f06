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
	mux, err := engine.New(g.cfg.Engine, g.log.With("component", "engine"), g.reg)
	if err != nil {
		return fmt.Errorf("engine: %w", err)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("listening for the Engine API (engine.listen_addr): %w", err)
	}
	if err := mux.Start(ctx); err != nil {
		ln.Close()
		return fmt.Errorf("engine: %w", err)
	}
	g.engine, g.engineLn = mux, ln
	g.engineSrv = newServer(mux.Handler())
	g.serve(g.engineSrv, ln)
	g.log.Info("engine API multiplexer started", "addr", ln.Addr().String(), "nodes", len(g.cfg.Engine.Nodes))
	return nil
}

// EngineURL is the Engine API listener's base URL ("" when off).
func (g *Gateway) EngineURL() string { return urlOf(g.engineLn) }

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
