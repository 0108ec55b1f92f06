package config

import "time"

// Defaults, in one place.
const (
	DefaultPort             = 8080
	DefaultListenAddr       = "0.0.0.0"
	DefaultMetricsPort      = 9101
	DefaultLogRateLimit     = 10 * time.Second
	DefaultRequestTimeout   = 30 * time.Second
	DefaultMaxBodyBytes     = 8 << 20
	DefaultMaxBatchSize     = 1000
	DefaultStrategy         = "p2c"
	DefaultPollInterval     = time.Second
	DefaultNetworkBlockDiff = 5
	DefaultRPCTimeout       = 5 * time.Second
	DefaultRPCRetries       = 2
	// DefaultLogsChunkBlocks and DefaultLogsSplitConcurrency shape the
	// eth_getLogs chunks.
	DefaultLogsChunkBlocks      = 2000
	DefaultLogsSplitConcurrency = 4
	DefaultDownAfter            = 3
	DefaultMaxQueued            = 10000
	DefaultFastTrackPerHigh     = 2
	DefaultLowShare             = 20
	DefaultLowMaxWait           = 2 * time.Second
	DefaultShutdownGrace        = 25 * time.Second
)

// Default fills every unset key with its default.
func (c *Config) Default() {
	setIf(&c.Port, 0, DefaultPort)
	setIf(&c.ListenAddr, "", DefaultListenAddr)
	setIf(&c.LogLevel, "", "INFO")
	setIf(&c.LogFormat, "", "text")
	setIf(&c.LogRateLimit, 0, Duration(DefaultLogRateLimit))
	if c.LogRequests == nil {
		t := true
		c.LogRequests = &t
	}
	setIf(&c.MetricsPort, 0, DefaultMetricsPort)
	if c.MetricsAddr == "" {
		c.MetricsAddr, c.metricsAddrDefault = c.ListenAddr, true
	}
	setIf(&c.ShutdownGrace, 0, Duration(DefaultShutdownGrace))
	setIf(&c.RequestTimeout, 0, Duration(DefaultRequestTimeout))
	setIf(&c.MaxBodyBytes, 0, DefaultMaxBodyBytes)
	setIf(&c.MaxBatchSize, 0, DefaultMaxBatchSize)
	setIf(&c.Strategy, "", DefaultStrategy)
	c.Scheduler.Default()
	if c.Admin.RedisURL == "" {
		c.Admin.RedisURL = c.RedisURL
	}
	c.Admin.Default()
	c.WebSocket.Default()
	c.Cache.Default()
	c.Attestation.Default()
	c.Limits.Default()
	c.ResponseCompression.Default()
	c.Tracing.Default()
	c.Access.Default()
	if c.Engine.Enabled {
		c.Engine.Default()
	}
	for i := range c.Networks {
		c.Networks[i].Default(c)
	}
}

// Default fills the scheduler's unset keys.
func (s *Scheduler) Default() {
	setIf(&s.MaxQueuedFastTrack, 0, DefaultMaxQueued)
	setIf(&s.MaxQueuedHigh, 0, DefaultMaxQueued)
	setIf(&s.MaxQueuedLow, 0, DefaultMaxQueued)
	setIf(&s.FastTrackPerHigh, 0, DefaultFastTrackPerHigh)
	setIf(&s.LowShare, 0, DefaultLowShare)
	setIf(&s.LowMaxWait, 0, Duration(DefaultLowMaxWait))
}

// Default fills a network's unset keys; top-level values are inherited.
func (n *Network) Default(top *Config) {
	if len(n.LoadBalancePriority) == 0 {
		n.LoadBalancePriority = []string{"chainhead", "latency"}
	}
	setIf(&n.LoadPeriod, 0, 1)
	setIf(&n.LocalPollInterval, 0, Duration(DefaultPollInterval))
	setIf(&n.MonitoringPollInterval, 0, n.LocalPollInterval)
	setIf(&n.NetworkBlockDiff, 0, DefaultNetworkBlockDiff)
	setIf(&n.FallbackBlockDiff, 0, n.NetworkBlockDiff)
	setIf(&n.RPCTimeout, 0, Duration(DefaultRPCTimeout))
	if n.RPCRetries == nil {
		r := DefaultRPCRetries
		n.RPCRetries = &r
	}
	setIf(&n.Strategy, "", top.Strategy)
	setIf(&n.DownAfter, 0, DefaultDownAfter)
	if n.LogsSplit == nil {
		t := true
		n.LogsSplit = &t
	}
	setIf(&n.LogsChunkBlocks, 0, DefaultLogsChunkBlocks)
	setIf(&n.LogsSplitConcurrency, 0, DefaultLogsSplitConcurrency)
	setIf(&n.MaxConcurrency, 0, top.MaxConcurrency)
	n.MethodTimeouts = inheritTimeouts(top.MethodTimeouts, n.MethodTimeouts)
	n.Hedge.Default()
	n.CircuitBreaker.Default()
	for _, tier := range [][]Node{n.LocalNodes, n.MonitoringNodes, n.FallbackNodes} {
		for i := range tier {
			setIf(&tier[i].Weight, 0, 1)
			setIf(&tier[i].MaxConcurrency, 0, n.MaxConcurrency)
		}
	}
}

func setIf[T comparable](p *T, zero, v T) {
	if *p == zero {
		*p = v
	}
}
