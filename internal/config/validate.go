package config

import (
	"errors"
	"fmt"
	"github.com/evmgate/evmgate/internal/upstream"
	"maps"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/evmgate/evmgate/internal/nodeurl"
	"github.com/evmgate/evmgate/internal/registry"
	"github.com/evmgate/evmgate/internal/sched"
)

// Strategies lists the accepted values of strategy.
var Strategies = []string{"p2c", "least_conn", "round_robin", "best"}

// Criteria lists the accepted values of load_balance_priority.
var Criteria = []string{"chainhead", "latency", "load"}

// ReservedNetworkNames cannot name a network: the gateway serves these
// paths itself.
var ReservedNetworkNames = []string{"health", "ready", "status", "metrics", "admin", "nodes"}

var networkName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]*$`)

// problems collects validation errors, each naming its key path and the fix.
type problems []string

func (p *problems) add(path, format string, args ...any) {
	*p = append(*p, path+": "+fmt.Sprintf(format, args...))
}

func (p problems) err() error {
	if len(p) == 0 {
		return nil
	}
	return errors.New("invalid configuration:\n  " + strings.Join(p, "\n  "))
}

// Validate checks a defaulted Config, reading the files it names as
// starting would.
func (c *Config) Validate() error { return c.validate(true) }

// validate checks a defaulted Config; attestationFiles false leaves the
// attestation section's files unread (see LoadReload).
func (c *Config) validate(attestationFiles bool) error {
	var p problems
	if c.Port < 1 {
		p.add("port", "%d is not a port: use a number from 1 to 65535", c.Port)
	}
	if c.MetricsPort < -1 || c.MetricsPort == 0 {
		p.add("metrics_port", "%d is not a port: use a number from 1 to 65535, or -1 to turn the metrics listener off", c.MetricsPort)
	}
	if c.Port > 0 && c.MetricsPort == c.Port && c.MetricsAddr == c.ListenAddr {
		p.add("metrics_port", "%d is also port: give the metrics listener its own port, or -1 to turn it off", c.MetricsPort)
	}
	if !slices.Contains([]string{"ERROR", "WARN", "INFO", "DEBUG", "TRACE"}, strings.ToUpper(c.LogLevel)) {
		p.add("log_level", "%q is not a level: use ERROR, WARN, INFO, DEBUG or TRACE", c.LogLevel)
	}
	if c.LogFormat != "text" && c.LogFormat != "json" {
		p.add("log_format", "%q is not a format: use text or json", c.LogFormat)
	}
	if c.LogRateLimit < 0 {
		p.add("log_rate_limit", "%s is negative: use a duration such as \"10s\", or \"0s\" to log every repeat", c.LogRateLimit.D())
	}
	if c.ShutdownDelay < 0 {
		p.add("shutdown_delay", "%s is negative: use a duration such as \"5s\", or 0 to stop accepting at once", c.ShutdownDelay.D())
	}
	if c.ShutdownGrace.D() < time.Millisecond {
		p.add("shutdown_grace", "%s is too short: use a duration such as \"25s\"", c.ShutdownGrace.D())
	}
	if c.RequestTimeout.D() < time.Millisecond {
		p.add("request_timeout", "%s is too short: use 1ms or more, such as \"30s\"", c.RequestTimeout.D())
	}
	validateMethodTimeouts(&p, "method_timeouts", c.MethodTimeouts)
	if c.MaxBodyBytes < 1024 {
		p.add("max_body_bytes", "%d is too small: use at least 1024", c.MaxBodyBytes)
	}
	if c.MaxBatchSize < 1 {
		p.add("max_batch_size", "must be at least 1")
	}
	if !slices.Contains(Strategies, c.Strategy) {
		p.add("strategy", "%q is unknown: use one of %s", c.Strategy, strings.Join(Strategies, ", "))
	}
	if c.MaxConcurrency < 0 {
		p.add("max_concurrency", "must be 0 (unlimited) or more")
	}
	c.Scheduler.validate(&p)
	if len(c.Networks) == 0 && !c.Engine.Enabled {
		p.add("networks", "no network is configured: add one with a name and local_nodes")
	}
	c.validateListeners(&p)
	c.ResponseCompression.validate(&p)
	c.Tracing.validate(&p)
	admin := c.Admin
	if c.RedisURL != "" && admin.RedisURL == c.RedisURL {
		// admin.redis_url holds redis_url's value: a fault is named by
		// the key the file wrote.
		admin.RedisURL = ""
		if msg := registry.RedisURLProblem(c.RedisURL); msg != "" {
			p.add("redis_url", "%s", msg)
		}
	}
	if err := admin.Validate(); err != nil {
		p = append(p, err.Error())
	}
	if err := c.WebSocket.Validate(); err != nil {
		p = append(p, strings.Split(err.Error(), "\n")...)
	}
	if err := c.Cache.Validate(); err != nil {
		p = append(p, strings.Split(err.Error(), "\n")...)
	}
	checkAttestation := c.Attestation.Validate
	if !attestationFiles {
		checkAttestation = c.Attestation.ValidateKeys
	}
	if err := checkAttestation(); err != nil {
		p = append(p, strings.Split(err.Error(), "\n")...)
	}
	c.validateAccess(&p)
	c.validateDefaultNetwork(&p)
	if c.Engine.Enabled {
		if err := c.Engine.Validate(); err != nil {
			p = append(p, err.Error())
		}
	}
	seen := map[string]int{}
	for i := range c.Networks {
		n := &c.Networks[i]
		path := fmt.Sprintf("networks[%d]", i)
		if j, dup := seen[n.Name]; dup && n.Name != "" {
			p.add(path+".name", "%q is also the name of networks[%d]: give each network a unique name", n.Name, j)
		} else {
			seen[n.Name] = i
		}
		n.validate(path, c, &p)
	}
	c.validateRuntime(&p)
	return p.err()
}

func (s *Scheduler) validate(p *problems) {
	for _, q := range []struct {
		key string
		v   int
	}{{"max_queued_fast_track", s.MaxQueuedFastTrack}, {"max_queued_high", s.MaxQueuedHigh}, {"max_queued_low", s.MaxQueuedLow}} {
		if q.v < 1 {
			p.add("scheduler."+q.key, "must be at least 1")
		}
	}
	if s.FastTrackPerHigh < 1 {
		p.add("scheduler.fast_track_per_high", "must be at least 1")
	}
	if s.LowShare < -1 || s.LowShare == 1 {
		p.add("scheduler.low_share", "use -1 (off) or a number of grants of 2 or more")
	}
}

// validate checks a network. A value it inherits from top (strategy,
// max_concurrency) or from local_poll_interval is reported where it was
// written, not again here.
func (n *Network) validate(path string, top *Config, p *problems) {
	switch {
	case n.Name == "":
		p.add(path+".name", "is required: the network is served at http://host:port/<name>, e.g. name: mainnet")
	case !networkName.MatchString(n.Name):
		p.add(path+".name", "%q cannot be a URL path segment: use letters, digits, '.', '_' or '-', starting with a letter or digit", n.Name)
	case slices.Contains(ReservedNetworkNames, strings.ToLower(n.Name)):
		p.add(path+".name", "%q is reserved: the gateway serves /%s itself; rename the network, e.g. %q", n.Name, strings.ToLower(n.Name), n.Name+"-net")
	}
	for _, c := range n.LoadBalancePriority {
		if !slices.Contains(Criteria, c) {
			p.add(path+".load_balance_priority", "%q is unknown: use chainhead, latency or load", c)
		}
	}
	if n.LoadPeriod != 1 && n.LoadPeriod != 5 && n.LoadPeriod != 15 {
		p.add(path+".load_period", "%d is not a load average period: use 1, 5 or 15", n.LoadPeriod)
	}
	if n.RPCRetries != nil && *n.RPCRetries < 0 {
		p.add(path+".rpc_retries", "must be 0 or more")
	}
	if !slices.Contains(Strategies, n.Strategy) && n.Strategy != top.Strategy {
		p.add(path+".strategy", "%q is unknown: use one of %s", n.Strategy, strings.Join(Strategies, ", "))
	}
	if n.LocalPollInterval.D() < 10e6 {
		p.add(path+".local_poll_interval", "%s is too short: use 10ms or more", n.LocalPollInterval.D())
	}
	if n.MonitoringPollInterval.D() < 10*time.Millisecond && n.MonitoringPollInterval != n.LocalPollInterval {
		p.add(path+".monitoring_poll_interval", "%s is too short: use 10ms or more", n.MonitoringPollInterval.D())
	}
	if n.RPCTimeout.D() < time.Millisecond {
		p.add(path+".rpc_timeout", "%s is too short: use 1ms or more", n.RPCTimeout.D())
	}
	validateMethodTimeouts(p, path+".method_timeouts", ownTimeouts(top.MethodTimeouts, n.MethodTimeouts))
	if n.MaxBlockAge < 0 {
		p.add(path+".max_block_age", "%s is negative: use a duration such as \"60s\", or 0 to turn the check off", n.MaxBlockAge.D())
	}
	if n.LogsSplitConcurrency < 1 || n.LogsSplitConcurrency > 64 {
		p.add(path+".logs_split_concurrency", "%d is out of range: use 1 to 64 chunks asked at once", n.LogsSplitConcurrency)
	}
	if n.MaxLogsBlockRange > 0 && n.LogsChunkBlocks > n.MaxLogsBlockRange {
		p.add(path+".logs_chunk_blocks", "%d is over max_logs_block_range (%d): no call could be split; lower logs_chunk_blocks", n.LogsChunkBlocks, n.MaxLogsBlockRange)
	}
	if n.DownAfter < 1 {
		p.add(path+".down_after", "must be at least 1 failed probe")
	}
	if n.MaxConcurrency < 0 && n.MaxConcurrency != top.MaxConcurrency {
		p.add(path+".max_concurrency", "must be 0 (unlimited) or more")
	}
	n.Hedge.validate(path+".hedge", p)
	n.CircuitBreaker.validate(path+".circuit_breaker", p)
	n.ConsistentReads.validate(path+".consistent_reads", p)
	n.validateNodes(path, top.Admin.RedisURL != "", p)
}

// validateNodes checks a network's nodes, and that each is listed once:
// by URL (the node registry's identity of a configured node) and by name.
// redis says whether Redis is configured, which a shared rate limit needs.
func (n *Network) validateNodes(path string, redis bool, p *problems) {
	names := map[string]string{}
	urls := map[string]string{}
	for _, tier := range []struct {
		key   string
		nodes []Node
	}{{"local_nodes", n.LocalNodes}, {"monitoring_nodes", n.MonitoringNodes}, {"fallback_nodes", n.FallbackNodes}} {
		tier, nodes := tier.key, tier.nodes
		for i := range nodes {
			np := fmt.Sprintf("%s.%s[%d]", path, tier, i)
			nd := nodes[i]
			if nd.MaxConcurrency == n.MaxConcurrency {
				nd.MaxConcurrency = 0 // inherited: reported where it was written
			}
			nd.validate(np, p)
			if nd.RateLimit.Shared && !redis {
				p.add(np+".rate_limit.shared", "needs Redis, where replicas keep the limit they share: set redis_url (or admin.redis_url), "+
					"or remove shared to let each replica count its own calls")
			}
			name := nodes[i].DisplayName()
			endpoint := nodeurl.Key(nd.RPCEndpoint)
			if other, dup := urls[endpoint]; dup && nd.RPCEndpoint != "" {
				p.add(np+".rpc_endpoint", "%s is also %s: list each node once", nodeurl.Redact(nd.RPCEndpoint), other)
			} else if other, dup := names[name]; dup {
				p.add(np, "node %q is listed twice (also at %s): remove one, or give each a distinct name", name, other)
			}
			names[name] = np
			if _, dup := urls[endpoint]; !dup {
				urls[endpoint] = np
			}
		}
	}
}

func (nd *Node) validate(path string, p *problems) {
	switch u, err := url.Parse(nd.RPCEndpoint); {
	case nd.RPCEndpoint == "":
		p.add(path+".rpc_endpoint", "is required: the node's http(s):// JSON-RPC URL")
	case !strings.Contains(nd.RPCEndpoint, "://"):
		p.add(path+".rpc_endpoint", "%q has no scheme: write it with http:// or https://, like http://10.0.0.5:8545", strings.TrimPrefix(nodeurl.Redact("http://"+nd.RPCEndpoint), "http://"))
	case err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "":
		p.add(path+".rpc_endpoint", "%q is not an http(s) URL: write it like http://10.0.0.5:8545", nodeurl.Redact(nd.RPCEndpoint))
	default:
		// prio-load-balancer's ?_workers=N, read as the gateway reads it.
		if _, _, err := sched.ParseWorkers(nd.RPCEndpoint); err != nil {
			p.add(path+".rpc_endpoint", "%v", err)
		}
	}
	if nd.WSEndpoint != "" {
		if u, err := url.Parse(nd.WSEndpoint); err != nil || (u.Scheme != "ws" && u.Scheme != "wss") || u.Host == "" {
			p.add(path+".ws_endpoint", "%q is not a ws(s) URL: write it like ws://10.0.0.5:8546", nodeurl.Redact(nd.WSEndpoint))
		}
	}
	if nd.HTTPOverWS && nd.WSEndpoint == "" {
		p.add(path+".http_over_ws", "needs the node's ws_endpoint, the WebSocket its calls would go over: "+
			"set ws_endpoint (e.g. ws://10.0.0.5:8546), or remove http_over_ws to send the calls over HTTP")
	}
	if nd.PrometheusEndpoint != "" {
		if u, err := url.Parse(nd.PrometheusEndpoint); err != nil || u.Host == "" {
			p.add(path+".prometheus_endpoint", "%q is not a URL: write it like http://10.0.0.5:9100/metrics", nd.PrometheusEndpoint)
		}
	}
	for _, k := range slices.Sorted(maps.Keys(nd.Headers)) {
		if !validHeaderName(k) {
			p.add(path+".headers", "%q is not an HTTP header name: use letters, digits and '-'", k)
		} else if strings.ContainsAny(nd.Headers[k], "\r\n\x00") {
			p.add(path+".headers."+k, "the value holds a line break: write it on one line")
		}
	}
	nd.validateAttestation(path, p)
	nd.validateState(path, p)
	if nd.Weight < 0 {
		p.add(path+".weight", "must be 1 or more")
	}
	if nd.MaxConcurrency < 0 {
		p.add(path+".max_concurrency", "must be 0 (unlimited) or more")
	}
	nd.RateLimit.validate(path+".rate_limit", p)
}

func (l NodeRateLimit) validate(path string, p *problems) {
	for _, e := range upstream.RateLimit(l).Problems() {
		p.add(path+"."+e.Key, "%s", e.Message)
	}
}

// validHeaderName reports whether k is an RFC 9110 field name (a token).
func validHeaderName(k string) bool {
	if k == "" {
		return false
	}
	for i := range len(k) {
		c := k[i]
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0 {
			continue
		}
		return false
	}
	return true
}

// DisplayName is the node's name, or its endpoint's host:port and path
// without credentials or query.
func (nd *Node) DisplayName() string {
	if nd.Name != "" {
		return nd.Name
	}
	return nodeurl.Redact(nd.RPCEndpoint)
}

// validateDefaultNetwork checks that admin.default_network, the network of
// the /nodes API, is one the file serves.
func (c *Config) validateDefaultNetwork(p *problems) {
	def := c.Admin.DefaultNetwork
	if def == "" || len(c.Networks) == 0 {
		return
	}
	names := make([]string, len(c.Networks))
	for i, n := range c.Networks {
		names[i] = n.Name
	}
	if !slices.Contains(names, def) {
		p.add("admin.default_network", "no network is named %q: use one of %s", def, strings.Join(names, ", "))
	}
}
