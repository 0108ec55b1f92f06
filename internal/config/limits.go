package config

import (
	"strings"
	"time"

	"github.com/evmgate/evmgate/internal/certfile"
)

// Limits is the limits: section: what one client may hold of the listeners.
type Limits struct {
	// MaxConnections bounds the JSON-RPC listener's open connections
	// (WebSocket ones included); over it, new connections wait in the
	// kernel's backlog until one closes. Default 15000; -1: no limit.
	MaxConnections int `yaml:"max_connections"`
	// MaxConnectionsPerIP bounds the JSON-RPC listener's open connections
	// from one client address (IPv6: one /64); over it, a new connection is
	// closed at once. Default 0: no limit, since behind a load balancer or
	// NAT every client shares one address.
	MaxConnectionsPerIP int `yaml:"max_connections_per_ip"`
	// MaxHeaderBytes bounds a request's line and headers, on every
	// listener; more is answered with HTTP 431. Default 65536.
	MaxHeaderBytes int `yaml:"max_header_bytes"`
	// ReadHeaderTimeout is how long a client may take to send a request's
	// line and headers, on every listener; a slower one is disconnected.
	// Default 10s.
	ReadHeaderTimeout Duration `yaml:"read_header_timeout"`
	// IdleTimeout closes a keep-alive connection that sent no request for
	// this long. Default 120s.
	IdleTimeout Duration `yaml:"idle_timeout"`
}

// Defaults of the limits: section.
const (
	DefaultMaxConnections    = 15000
	DefaultMaxHeaderBytes    = 64 << 10
	DefaultReadHeaderTimeout = 10 * time.Second
	DefaultIdleTimeout       = 120 * time.Second
)

// Default fills the unset limits.
func (l *Limits) Default() {
	setIf(&l.MaxConnections, 0, DefaultMaxConnections)
	setIf(&l.MaxHeaderBytes, 0, DefaultMaxHeaderBytes)
	setIf(&l.ReadHeaderTimeout, 0, Duration(DefaultReadHeaderTimeout))
	setIf(&l.IdleTimeout, 0, Duration(DefaultIdleTimeout))
}

// validateListeners checks the limits and the listeners' tls: sections,
// with the files they name.
func (c *Config) validateListeners(p *problems) {
	l := c.Limits
	if l.MaxConnections < -1 {
		p.add("limits.max_connections", "%d is not a limit: use a number of connections such as 15000, or -1 for no limit", l.MaxConnections)
	}
	if l.MaxConnectionsPerIP < 0 {
		p.add("limits.max_connections_per_ip", "%d is not a limit: use a number of connections such as 256, or 0 for no limit", l.MaxConnectionsPerIP)
	}
	if l.MaxConnections > 0 && l.MaxConnectionsPerIP > l.MaxConnections {
		p.add("limits.max_connections_per_ip", "%d is more than limits.max_connections (%d): lower it", l.MaxConnectionsPerIP, l.MaxConnections)
	}
	if l.MaxHeaderBytes < 4096 {
		p.add("limits.max_header_bytes", "%d is too small: use at least 4096", l.MaxHeaderBytes)
	}
	if l.ReadHeaderTimeout.D() < 100*time.Millisecond {
		p.add("limits.read_header_timeout", "%s is too short: use a duration such as \"10s\"", l.ReadHeaderTimeout.D())
	}
	if l.IdleTimeout.D() < 100*time.Millisecond {
		p.add("limits.idle_timeout", "%s is too short: use a duration such as \"120s\"", l.IdleTimeout.D())
	}
	if err := c.TLS.Validate("tls", false); err != nil {
		*p = append(*p, strings.Split(err.Error(), "\n")...)
	}
	// The files of every listener that serves TLS are read as at start.
	// The admin and engine sections check their own keys; their files are
	// read here, once those keys are right.
	for _, l := range []struct {
		c       certfile.Config
		prefix  string
		on      bool
		clients bool
	}{
		{c.TLS, "tls", true, false},
		{c.Admin.TLS, "admin.tls", c.Admin.AdminListen != "", true},
		{c.Engine.TLS, "engine.tls", c.Engine.Enabled, false},
	} {
		if !l.on || !l.c.Enabled() || l.c.Validate(l.prefix, l.clients) != nil {
			continue
		}
		if err := certfile.Check(l.c, l.prefix); err != nil {
			*p = append(*p, err.Error()) // it names its key
		}
	}
}
