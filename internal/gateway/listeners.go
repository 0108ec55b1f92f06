package gateway

import (
	"bytes"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/evmgate/evmgate/internal/certfile"
	"github.com/evmgate/evmgate/internal/config"
	"github.com/evmgate/evmgate/internal/connlimit"
	"github.com/evmgate/evmgate/internal/rpcserver"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/valyala/fasthttp"
)

// listenerTLS holds the certificates of the listeners; nil: plain HTTP.
type listenerTLS struct {
	rpc    *certfile.Store // the JSON-RPC (and WebSocket) and metrics listeners
	admin  *certfile.Store
	engine *certfile.Store
}

// loadTLS reads the certificate files of every listener with a tls:
// section, watches them for changes and exports each certificate's expiry.
func loadTLS(cfg *config.Config, log *slog.Logger, reg prometheus.Registerer) (listenerTLS, error) {
	var out listenerTLS
	for _, l := range []struct {
		c      certfile.Config
		prefix string
		to     **certfile.Store
		on     bool
	}{
		{cfg.TLS, "tls", &out.rpc, true},
		{cfg.Admin.TLS, "admin.tls", &out.admin, cfg.Admin.AdminListen != ""},
		{cfg.Engine.TLS, "engine.tls", &out.engine, cfg.Engine.Enabled},
	} {
		if !l.on || !l.c.Enabled() {
			continue
		}
		s, err := certfile.New(l.c, l.prefix, log)
		if err == nil {
			err = s.Watch()
		}
		if err == nil {
			err = reg.Register(expiry(l.prefix, s))
		}
		if err != nil {
			out.close()
			if s != nil {
				s.Close()
			}
			return listenerTLS{}, err
		}
		*l.to = s
	}
	return out, nil
}

// expiry is the not-after time of the certificate a listener serves now.
func expiry(prefix string, s *certfile.Store) prometheus.Collector {
	return prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name:        "evmgate_tls_certificate_expiry_timestamp_seconds",
		Help:        "Not-after time of the certificate a listener serves (listener: the configuration section).",
		ConstLabels: prometheus.Labels{"listener": prefix},
	}, func() float64 { return float64(s.NotAfter().Unix()) })
}

func (t listenerTLS) close() {
	for _, s := range []*certfile.Store{t.rpc, t.admin, t.engine} {
		if s != nil {
			s.Close()
		}
	}
}

// A request must be read within readTimeout and its answer written within
// writeTimeout.
const (
	readTimeout  = 60 * time.Second
	writeTimeout = 120 * time.Second
)

// newServer is an http.Server with the limits: section's header limits and
// timeouts; with certs, it serves TLS (HTTP/2 offered beside HTTP/1.1,
// which WebSocket upgrades use).
func (g *Gateway) newServer(h http.Handler, certs *certfile.Store) *http.Server {
	l := g.cfg.Limits
	l.Default() // a configuration built in code may leave them unset
	srv := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: l.ReadHeaderTimeout.D(),
		ReadTimeout:       readTimeout,
		WriteTimeout:      writeTimeout,
		IdleTimeout:       l.IdleTimeout.D(),
		MaxHeaderBytes:    l.MaxHeaderBytes,
		ErrorLog:          slog.NewLogLogger(g.log.Handler(), slog.LevelDebug),
	}
	if certs != nil {
		srv.TLSConfig = certs.ServerConfig(nil)
	}
	return srv
}

// newRPCServer is the JSON-RPC listener's server: JSON-RPC calls on
// fasthttp's server (proxy.Handler.ServeFast), everything else on net/http
// with RPCHandler.
func (g *Gateway) newRPCServer() *rpcserver.Server {
	l := g.cfg.Limits
	l.Default()
	o := rpcserver.Options{
		ReadHeaderTimeout: l.ReadHeaderTimeout.D(),
		ReadTimeout:       readTimeout,
		WriteTimeout:      writeTimeout,
		IdleTimeout:       l.IdleTimeout.D(),
		MaxHeaderBytes:    l.MaxHeaderBytes,
		MaxBodyBytes:      func() int { return int(g.handler.BodyLimit()) },
		Error:             g.handler.ServeFastError,
		Log:               g.log,
		Base:              g.handler.Base(), // ended at the end of a shutdown's grace (stopCalls)
	}
	if g.tls.rpc != nil {
		o.TLS = g.tls.rpc.ServerConfig(nil)
	}
	adminOnRPC := g.cfg.Admin.OnRPC && g.registry != nil
	fast := func(ctx *fasthttp.RequestCtx) bool {
		if adminOnRPC {
			if p := ctx.Path(); string(p) == "/nodes" || bytes.HasPrefix(p, []byte("/admin/")) {
				return false
			}
		}
		if g.rest != nil && g.rest.Serves(ctx.Path()) {
			return false // the REST handler's, on net/http's server
		}
		return g.handler.ServeFast(ctx)
	}
	return rpcserver.New(fast, g.newServer(g.RPCHandler(), nil), o)
}

// serveRPC serves the JSON-RPC listener until Close.
func (g *Gateway) serveRPC(srv *rpcserver.Server, ln net.Listener) {
	g.wg.Go(func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			g.log.Error("server stopped", "addr", ln.Addr().String(), "err", err)
		}
	})
}

// limitRPC bounds the JSON-RPC listener's connections, in total and per
// client address.
func (g *Gateway) limitRPC(ln net.Listener) net.Listener {
	l := g.cfg.Limits
	l.Default()
	return connlimit.Wrap(ln, connlimit.Options{
		Max: max(l.MaxConnections, 0), PerIP: l.MaxConnectionsPerIP, Metrics: g.conns, Name: "rpc",
	})
}

func (g *Gateway) serve(srv *http.Server, ln net.Listener) {
	g.wg.Go(func() {
		var err error
		if srv.TLSConfig != nil {
			err = srv.ServeTLS(ln, "", "") // the certificate comes from TLSConfig.GetCertificate
		} else {
			err = srv.Serve(ln)
		}
		if err != nil && !errors.Is(err, http.ErrServerClosed) {
			g.log.Error("server stopped", "addr", ln.Addr().String(), "err", err)
		}
	})
}

// urlOf is a listener's base URL ("" when off).
func urlOf(ln net.Listener, certs *certfile.Store) string {
	switch {
	case ln == nil:
		return ""
	case certs != nil:
		return "https://" + ln.Addr().String()
	}
	return "http://" + ln.Addr().String()
}
