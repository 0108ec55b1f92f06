package config

import (
	"github.com/evmgate/evmgate/internal/access"
	"github.com/evmgate/evmgate/internal/attest"
	"github.com/evmgate/evmgate/internal/cache"
	"github.com/evmgate/evmgate/internal/certfile"
	"github.com/evmgate/evmgate/internal/engine"
	"github.com/evmgate/evmgate/internal/methodset"
	"github.com/evmgate/evmgate/internal/registry"
	"github.com/evmgate/evmgate/internal/ws"
)

// Config is the whole configuration file.
type Config struct {
	// Port is the JSON-RPC listener's port (StakeSquid: port). Default 8080.
	Port Port `yaml:"port"`
	// ListenAddr is the JSON-RPC listener's host. Default "0.0.0.0" (all
	// interfaces, as StakeSquid); set "127.0.0.1" to keep it local.
	ListenAddr string `yaml:"listen_addr"`
	// LogLevel is ERROR, WARN, INFO, DEBUG or TRACE (TRACE is DEBUG). Default INFO.
	LogLevel string `yaml:"log_level"`
	// LogFormat is "text" or "json". Default "text".
	LogFormat string `yaml:"log_format"`
	// LogRateLimit is the least time between two repeats of the same warning
	// about the same node. Default 10s.
	LogRateLimit Duration `yaml:"log_rate_limit"`
	// LogRequests writes one "request completed" line per client request at
	// INFO. Default true.
	LogRequests *bool `yaml:"log_requests"`
	// MetricsPort serves Prometheus /metrics and the status API. Default 9101;
	// -1 turns the listener off.
	MetricsPort Port `yaml:"metrics_port"`
	// MetricsAddr is the metrics listener's host. Default: ListenAddr.
	MetricsAddr string `yaml:"metrics_addr"`
	// metricsAddrDefault: the file does not write metrics_addr, which
	// Default set to ListenAddr.
	metricsAddrDefault bool

	// ShutdownDelay is how long the gateway keeps accepting calls after
	// SIGTERM while /ready answers 503, so a load balancer (a Kubernetes
	// Service) stops sending new ones first. Default 0.
	ShutdownDelay Duration `yaml:"shutdown_delay"`
	// ShutdownGrace is how long calls in flight and WebSocket connections
	// may take to finish once the listeners have stopped. Default 25s.
	ShutdownGrace Duration `yaml:"shutdown_grace"`

	// RequestTimeout bounds one client call, queueing, retries and all.
	// Default 30s.
	RequestTimeout Duration `yaml:"request_timeout"`
	// MethodTimeouts gives methods (names, or prefixes ending in *) their
	// own timeout per try in place of a network's rpc_timeout; a call's
	// whole budget is then at least that long. Every network has these;
	// a network's own method_timeouts win for the same entry.
	MethodTimeouts map[string]Duration `yaml:"method_timeouts"`
	// MaxBodyBytes limits a client request body. Default 8 MiB.
	MaxBodyBytes int64 `yaml:"max_body_bytes"`
	// MaxBatchSize limits the calls in one JSON-RPC batch. Default 1000.
	MaxBatchSize int `yaml:"max_batch_size"`
	// Strategy spreads calls over a tier's eligible nodes: "p2c" (power of
	// two choices on in-flight × latency, the default), "least_conn",
	// "round_robin" (weighted) or "best" (always the top node by
	// load_balance_priority, StakeSquid's behaviour). Networks may override.
	Strategy string `yaml:"strategy"`
	// MaxConcurrency is the default number of calls in flight per node
	// (its workers); 0 means unlimited. Networks and nodes may override.
	MaxConcurrency int `yaml:"max_concurrency"`

	// Scheduler sets the priority queues.
	Scheduler Scheduler `yaml:"scheduler"`

	Networks []Network `yaml:"networks"`

	// Admin is the runtime node management: the admin API, a local state
	// file, and Redis shared by replicas.
	Admin registry.Config `yaml:"admin"`
	// RedisURL is admin.redis_url's short form: with it, every replica
	// shares the runtime node set through Redis.
	RedisURL string `yaml:"redis_url"`

	// Engine is the Engine API multiplexer: one consensus client driving
	// several execution clients. Off unless engine.enabled.
	Engine engine.Config `yaml:"engine"`

	// WebSocket sets the limits of JSON-RPC over WebSocket (ws://host:port/<network>)
	// and of eth_subscribe.
	WebSocket ws.Config `yaml:"websocket"`

	// Cache is the response cache and in-flight dedup of identical reads.
	Cache cache.Settings `yaml:"cache"`

	// Access says who may call what, how often: API keys, JWTs, method
	// policy, rate limits, CORS. Without it the gateway is open.
	Access access.Config `yaml:"access"`

	// Attestation says where the collateral of attested nodes (nodes with
	// an attestation: key, or prio-load-balancer's SEV_/SGX_ URIs) comes
	// from, and which SGX quote verifier to ask.
	Attestation attest.Settings `yaml:"attestation"`

	// TLS serves the JSON-RPC listener (and so WebSocket) and the metrics
	// listener over TLS from certificate and key files, read again when they
	// change. Empty: plain HTTP.
	TLS certfile.Config `yaml:"tls"`
	// Limits bound what one client may hold of the listeners: connections,
	// header bytes, and the time to send headers or stay idle.
	Limits Limits `yaml:"limits"`

	// ResponseCompression gzips the JSON-RPC port's answers for clients
	// that send Accept-Encoding: gzip, as go-ethereum's HTTP server does.
	ResponseCompression ResponseCompression `yaml:"response_compression"`

	// Tracing sends OpenTelemetry spans of client requests and their tries
	// on nodes to a collector. Off unless tracing.enabled.
	Tracing Tracing `yaml:"tracing"`
}

// ResponseCompression is the response_compression: section.
type ResponseCompression struct {
	// Enabled gzips answers for clients whose Accept-Encoding allows gzip.
	// Default true.
	Enabled *bool `yaml:"enabled"`
	// MinBytes is the least answer length compressed; shorter answers go
	// as they are. Default 1024.
	MinBytes *int `yaml:"min_bytes"`
}

// DefaultCompressionMinBytes is response_compression.min_bytes's default.
const DefaultCompressionMinBytes = 1024

// Default fills the section's unset keys.
func (r *ResponseCompression) Default() {
	if r.Enabled == nil {
		t := true
		r.Enabled = &t
	}
	if r.MinBytes == nil {
		n := DefaultCompressionMinBytes
		r.MinBytes = &n
	}
}

func (r *ResponseCompression) validate(p *problems) {
	if r.MinBytes != nil && *r.MinBytes < 0 {
		p.add("response_compression.min_bytes", "%d is negative: use a number of bytes such as 1024, or 0 to compress every answer", *r.MinBytes)
	}
}

// Scheduler configures the priority classes (X-Fast-Track, X-High-Priority, low).
type Scheduler struct {
	// MaxQueuedFastTrack, MaxQueuedHigh, MaxQueuedLow bound each class's
	// queue; a full class answers at once with HTTP 429. Default 10000 each.
	MaxQueuedFastTrack int `yaml:"max_queued_fast_track"`
	MaxQueuedHigh      int `yaml:"max_queued_high"`
	MaxQueuedLow       int `yaml:"max_queued_low"`
	// FastTrackPerHigh is how many fast-track calls go before one high call
	// when both wait. Default 2.
	FastTrackPerHigh int `yaml:"fast_track_per_high"`
	// DrainFastTrackFirst serves every waiting fast-track call before any high one.
	DrainFastTrackFirst bool `yaml:"drain_fast_track_first"`
	// LowShare guarantees one of every LowShare grants to a waiting low call.
	// Default 20; -1 turns it off.
	LowShare int `yaml:"low_share"`
	// LowMaxWait promotes a low call that waited this long to high. Default 2s.
	LowMaxWait Duration `yaml:"low_max_wait"`
}

// Network is one chain served at /<name>.
type Network struct {
	// Name is the URL path segment: http://host:port/<name>.
	Name string `yaml:"name"`
	// ChainID, when set, is the only chain id accepted from this network's
	// nodes. Otherwise the id most nodes report is taken.
	ChainID uint64 `yaml:"chain_id"`

	LocalNodes      []Node `yaml:"local_nodes"`
	MonitoringNodes []Node `yaml:"monitoring_nodes"`
	FallbackNodes   []Node `yaml:"fallback_nodes"`

	// LoadBalancePriority orders candidates, first criterion first:
	// "chainhead", "latency", "load". Default [chainhead, latency].
	LoadBalancePriority []string `yaml:"load_balance_priority"`
	// LoadPeriod picks the host load average: 1, 5 or 15 minutes. Default 1.
	LoadPeriod int `yaml:"load_period"`
	// LocalPollInterval is how often local nodes are probed. Default 1s.
	LocalPollInterval Duration `yaml:"local_poll_interval"`
	// MonitoringPollInterval is how often monitoring and fallback nodes are
	// probed. Default: LocalPollInterval.
	MonitoringPollInterval Duration `yaml:"monitoring_poll_interval"`
	// NetworkBlockDiff is how many blocks a local or monitoring node may be
	// behind the network head and still serve. Default 5.
	NetworkBlockDiff uint64 `yaml:"network_block_diff"`
	// FallbackBlockDiff is the same for fallback nodes. Default: NetworkBlockDiff.
	FallbackBlockDiff uint64 `yaml:"fallback_block_diff"`
	// SwitchToFallbackEnabled moves traffic to the fallback tier when every
	// local node is more than SwitchToFallbackBlockThreshold blocks behind.
	SwitchToFallbackEnabled        bool   `yaml:"switch_to_fallback_enabled"`
	SwitchToFallbackBlockThreshold uint64 `yaml:"switch_to_fallback_block_threshold"`
	// UseLoadTracker reads node_loadN from each node's prometheus_endpoint.
	UseLoadTracker bool `yaml:"use_load_tracker"`
	// RPCTimeout bounds one try on one node (and one probe). Default 5s.
	RPCTimeout Duration `yaml:"rpc_timeout"`
	// RPCRetries is how many more nodes a failed call is tried on. Default 2.
	RPCRetries *int `yaml:"rpc_retries"`
	// MethodTimeouts are this network's method timeouts, over the top
	// level's (see Config.MethodTimeouts and TimeoutsOf).
	MethodTimeouts map[string]Duration `yaml:"method_timeouts"`

	// Strategy overrides the top-level strategy for this network.
	Strategy string `yaml:"strategy"`
	// MaxBlockAge marks a node stale when its newest block is older than
	// this (the block timestamp freshness rule). 0 disables. Default 0.
	MaxBlockAge Duration `yaml:"max_block_age"`
	// DownAfter is how many failed probes in a row mark a node down. Default 3.
	DownAfter int `yaml:"down_after"`
	// MaxConcurrency overrides the top-level default for this network's nodes.
	MaxConcurrency int `yaml:"max_concurrency"`
	// Paths are more paths on the JSON-RPC listener that serve this network
	// the way flashbots' prio-load-balancer serves its calls, e.g.
	// ["/", "/sim"]: a node's answer carries the X-PrioLB-* headers, the
	// gateway's own failures are plain text (400 body too large, 500
	// otherwise), and GET answers 200.
	Paths []string `yaml:"paths"`
	// Cache: false turns the response cache and in-flight dedup off for
	// this network. Default: cache.enabled.
	Cache *bool `yaml:"cache"`
	// MaxLogsBlockRange is the most blocks one eth_getLogs call may cover;
	// a call over it is refused with an error naming the range and the
	// limit. Default 0: no limit.
	MaxLogsBlockRange uint64 `yaml:"max_logs_block_range"`
	// LogsSplit cuts an eth_getLogs range longer than LogsChunkBlocks into
	// chunks asked of the nodes in parallel and stitched back. Off, a call
	// goes to one node whole (one call per call, for providers that bill
	// per call). Default true.
	LogsSplit *bool `yaml:"logs_split"`
	// LogsChunkBlocks is the length of a chunk. Default 2000.
	LogsChunkBlocks uint64 `yaml:"logs_chunk_blocks"`
	// LogsSplitConcurrency is how many chunks of one call are asked at
	// once. Default 4.
	LogsSplitConcurrency int `yaml:"logs_split_concurrency"`
	// RESTAPI serves the REST interface of the Infura web server beside
	// JSON-RPC: GET /<name>/health, /blocknumber, /gasprice, POST
	// /<name>/blockbynumber, /txbyblockandindex, the same under /<name>/ws/
	// over the nodes' WebSockets, and the WebSocket /<name>/socket2socket.
	// Default false: those paths are unknown networks, as without it.
	RESTAPI bool `yaml:"rest_api"`
	// Hedge sends a second copy of a slow read to another node (see Hedge).
	Hedge Hedge `yaml:"hedge"`
	// CircuitBreaker keeps a node whose calls keep failing out for a
	// cool-down (see CircuitBreaker).
	CircuitBreaker CircuitBreaker `yaml:"circuit_breaker"`
	// ConsistentReads keeps each named client's reads consistent: the head
	// never goes back, and a client reads its own transactions.
	ConsistentReads ConsistentReads `yaml:"consistent_reads"`
	// BroadcastTransactions sends a transaction that a node accepted
	// (eth_sendRawTransaction) to the network's other nodes too, so that
	// it reaches every pool at once. Default false.
	BroadcastTransactions bool `yaml:"broadcast_transactions"`
}

// Node is one upstream execution node.
type Node struct {
	// RPCEndpoint is the node's HTTP(S) JSON-RPC URL. API keys may sit in the
	// path, the query or user:password@; use ${VAR} to keep them out of the
	// file. prio-load-balancer's ?_workers=N sets MaxConcurrency.
	RPCEndpoint string `yaml:"rpc_endpoint"`
	// WSEndpoint is the node's WebSocket URL, optional.
	WSEndpoint string `yaml:"ws_endpoint"`
	// HTTPOverWS sends the node's JSON-RPC calls over one shared WebSocket
	// connection to ws_endpoint instead of HTTP.
	HTTPOverWS bool `yaml:"http_over_ws"`
	// PrometheusEndpoint is the node exporter's /metrics URL for host load.
	PrometheusEndpoint string `yaml:"prometheus_endpoint"`
	// Name labels the node in logs, metrics and status. Default: the
	// endpoint's host and port (never its credentials).
	Name string `yaml:"name"`
	// Headers are sent with every request to the node (e.g. Host for a
	// provider behind a rewrite, or an API key header).
	Headers map[string]string `yaml:"headers"`
	// Weight scales the node's share of traffic. Default 1.
	Weight int `yaml:"weight"`
	// MaxConcurrency is this node's calls in flight (workers). 0: inherit.
	MaxConcurrency int `yaml:"max_concurrency"`
	// Gzip asks the node for gzip responses. Default: on for https, off for http.
	Gzip *bool `yaml:"gzip"`
	// Attestation makes the node an attested one: it is served only while
	// the TLS certificate it presents carries a valid SEV-SNP, TDX or SGX
	// attestation bound to the certificate's key. prio-load-balancer's
	// https://SEV_...@host and https://SGX_...@host URIs set it too.
	Attestation *attest.Spec `yaml:"attestation"`
	// Archive says whether the node keeps the state of every block (true)
	// or only of recent ones (false). Unset: detected by a probe.
	Archive *bool `yaml:"archive"`
	// StateWindow is how many blocks below its head a full node keeps state
	// for. Default 128 (go-ethereum's).
	StateWindow uint64 `yaml:"state_window"`
	// Methods are the methods sent to the node ("trace_*" only to the
	// nodes that serve them); names or prefixes ending in *. Empty: all.
	Methods methodset.Lists `yaml:"methods"`
	// RateLimit caps the calls sent to the node, a provider's plan: rate
	// calls a second, burst at once. Unset: no cap.
	RateLimit NodeRateLimit `yaml:"rate_limit"`
}

// NodeRateLimit is a node's rate_limit: section.
type NodeRateLimit struct {
	// Rate is calls a second (each call of a batch counts); 0: no cap.
	Rate float64 `yaml:"rate"`
	// Burst is how many calls may go at once after a quiet spell.
	// Default: rate, rounded up.
	Burst int `yaml:"burst"`
	// Shared makes rate and burst one limit for every replica that uses
	// the same Redis (redis_url), instead of a limit for each. Default
	// false.
	Shared bool `yaml:"shared"`
}
