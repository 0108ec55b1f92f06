package priolb

import (
	"cmp"
	"errors"
	"fmt"
	"net"
	"regexp"
	"strconv"
	"strings"

	"github.com/evmgate/evmgate/internal/config"
)

// NetworkName is the one network `evmgate prio` serves.
const NetworkName = "default"

// Paths are where prio-load-balancer takes calls.
var Paths = []string{"/", "/sim"}

// Config turns the settings into a validated evmgate configuration whose
// one network has the given nodes (in order; exact duplicates dropped).
func (s *Settings) Config(nodes []string) (*config.Config, error) {
	host, port, err := hostPort(s.ListenAddr, "-http (LISTEN_ADDR)", "localhost:8080 or :8080")
	if err != nil {
		return nil, err
	}
	if err := s.checkAdmin(host); err != nil {
		return nil, err
	}
	retries := max(s.RetriesMax-1, 0)
	cfg := &config.Config{
		ListenAddr:     cmp.Or(host, "0.0.0.0"),
		Port:           config.Port(port),
		LogLevel:       strings.ToUpper(s.LogLevel),
		LogFormat:      "text",
		MetricsPort:    -1,
		RequestTimeout: config.Duration(s.RequestTimeout + s.ProxyTimeout),
		MaxBodyBytes:   int64(s.PayloadMaxKB) << 10,
		MaxConcurrency: s.NodeWorkers,
		Scheduler: config.Scheduler{
			MaxQueuedFastTrack:  s.ItemsFastTrackMax,
			MaxQueuedHigh:       s.ItemsHighPrioMax,
			MaxQueuedLow:        s.ItemsLowPrioMax,
			FastTrackPerHigh:    s.FastTrackPerHighPrio,
			DrainFastTrackFirst: s.FastTrackDrainFirst,
			LowShare:            s.LowShare,
			LowMaxWait:          config.Duration(s.LowMaxWait),
		},
		Networks: []config.Network{{
			Name:       NetworkName,
			Paths:      Paths,
			LocalNodes: configNodes(nodes),
			RPCTimeout: config.Duration(s.ProxyTimeout),
			RPCRetries: &retries,
		}},
	}
	for name, d := range s.MethodTimeouts {
		if cfg.MethodTimeouts == nil {
			cfg.MethodTimeouts = map[string]config.Duration{}
		}
		cfg.MethodTimeouts[name] = config.Duration(d)
	}
	if s.LogProd {
		cfg.LogFormat = "json"
	}
	cfg.Admin.OnRPC = true
	cfg.Admin.AdminToken = s.AdminToken
	if url, ok := RedisURL(s.Redis); ok {
		cfg.Admin.RedisURL = url
		cfg.Admin.RedisPrefix = s.RedisPrefix + "evmgate:"
	}
	if s.MetricsAddr != "" {
		mhost, mport, err := hostPort(s.MetricsAddr, "-metrics (METRICS_ADDR)", "127.0.0.1:9101")
		if err != nil {
			return nil, err
		}
		cfg.MetricsAddr, cfg.MetricsPort = cmp.Or(mhost, "0.0.0.0"), config.Port(mport)
	}
	cfg.Default()
	if err := cfg.Validate(); err != nil {
		text := flagNode.ReplaceAllStringFunc(err.Error(), func(m string) string {
			i, _ := strconv.Atoi(flagNode.FindStringSubmatch(m)[1])
			return "-nodes (NODES) node " + strconv.Itoa(i+1)
		})
		return nil, errors.New(flagTimeouts.ReplaceAllString(text, "$1-method-timeouts (METHOD_TIMEOUTS)"))
	}
	return cfg, nil
}

// flagNode is the configuration key of the node that -nodes (NODES) gives
// at an index: an error about it names the flag the user wrote.
var flagNode = regexp.MustCompile(`networks\[0\]\.local_nodes\[(\d+)\](?:\.rpc_endpoint)?`)

// flagTimeouts is the configuration key that -method-timeouts
// (METHOD_TIMEOUTS) fills.
var flagTimeouts = regexp.MustCompile(`(?m)^(\s*)method_timeouts\b`)

// hostPort reads a listen address: host:port, host may be empty (all
// interfaces).
func hostPort(addr, what, example string) (string, int, error) {
	host, port, err := net.SplitHostPort(addr)
	n, perr := strconv.Atoi(port)
	if err != nil || perr != nil || n < 1 || n > 65535 {
		return "", 0, fmt.Errorf("%s %q is not host:port, such as %s", what, addr, example)
	}
	return host, n, nil
}

// checkAdmin refuses to serve /nodes to the network without a token:
// prio-load-balancer let anyone who reached its port add or remove nodes.
func (s *Settings) checkAdmin(host string) error {
	if s.AdminToken != "" && len(s.AdminToken) < 16 {
		return fmt.Errorf("-admin-token (ADMIN_TOKEN) is %d characters: use at least 16", len(s.AdminToken))
	}
	if s.AdminToken == "" && !config.LoopbackHost(host) {
		return fmt.Errorf("-http (LISTEN_ADDR) %q is not a loopback address, and /nodes is served there: "+
			"set -admin-token (ADMIN_TOKEN) to a secret of 16 or more characters, sent as \"Authorization: Bearer <token>\", "+
			"or listen on localhost", s.ListenAddr)
	}
	return nil
}

// configNodes makes configuration nodes of URIs, dropping exact duplicates
// (as prio-load-balancer did) and naming nodes whose shown names would
// clash (two URLs that differ only in an API key or _workers).
func configNodes(uris []string) []config.Node {
	var out []config.Node
	seen := map[string]bool{}
	names := map[string]int{}
	for _, u := range uris {
		if seen[u] {
			continue
		}
		seen[u] = true
		nd := config.Node{RPCEndpoint: u}
		shown := nd.DisplayName()
		if names[shown]++; names[shown] > 1 {
			nd.Name = shown + "#" + strconv.Itoa(names[shown])
		}
		out = append(out, nd)
	}
	return out
}
