package metrics

import "github.com/prometheus/client_golang/prometheus"

// Network is a network's state at scrape time.
type Network struct {
	Name          string
	Head          uint64
	Eligible      int            // nodes a call may be sent to now
	QueueDepth    map[string]int // by class
	QueueCapacity map[string]int // queue bound by class
	Nodes         []Node
}

// Node is a node's state at scrape time.
type Node struct {
	Name     string
	Tier     string
	State    string
	States   []string // every possible state, for the 0/1 gauge
	Head     uint64
	Behind   uint64
	Latency  float64 // seconds
	Load     float64
	InFlight int64
	Best     bool
	// Attested is set for attested nodes: whether the last verification
	// passed, and the failures so far by reason.
	Attested         *bool
	AttestationFails map[string]uint64
	// Breaker is the node's circuit breaker state (closed, half_open,
	// open); "" when breakers are off.
	Breaker string
	// SharedLimit is set for a node whose rate limit replicas share:
	// whether it is counted in Redis now (false: by this replica alone).
	SharedLimit *bool
}

var (
	descLatency  = prometheus.NewDesc("loadbalancer_node_latency_seconds", "Smoothed probe latency of the node.", []string{"network", "rpc_endpoint"}, nil)
	descHead     = prometheus.NewDesc("loadbalancer_node_chainhead", "Last head reported by the node (0 when down).", []string{"network", "rpc_endpoint"}, nil)
	descBehind   = prometheus.NewDesc("loadbalancer_node_blocks_behind", "Blocks the node is behind the network head.", []string{"network", "rpc_endpoint"}, nil)
	descLoad     = prometheus.NewDesc("loadbalancer_node_load", "Host load average of the node (use_load_tracker).", []string{"network", "rpc_endpoint"}, nil)
	descBest     = prometheus.NewDesc("loadbalancer_best_endpoint", "1 for the first node in the serving tier's priority order.", []string{"network", "rpc_endpoint"}, nil)
	descState    = prometheus.NewDesc("evmgate_node_state", "1 for the node's current health state.", []string{"network", "rpc_endpoint", "tier", "state"}, nil)
	descInFlight = prometheus.NewDesc("evmgate_node_in_flight", "Calls in flight on the node (workers busy).", []string{"network", "rpc_endpoint"}, nil)
	descNetHead  = prometheus.NewDesc("evmgate_network_head", "Robust network head.", []string{"network"}, nil)
	descQueue    = prometheus.NewDesc("evmgate_queue_depth", "Calls waiting for a worker, per priority class.", []string{"network", "class"}, nil)
	descQueueCap = prometheus.NewDesc("evmgate_queue_capacity", "Calls a priority class may hold waiting (scheduler.max_queued_*).", []string{"network", "class"}, nil)
	descEligible = prometheus.NewDesc("evmgate_network_eligible_nodes", "Nodes of the network a call may be sent to now (0: no eligible node, /ready answers 503).", []string{"network"}, nil)
	descAttested = prometheus.NewDesc("evmgate_node_attested", "1 when the attested node's last certificate verification passed.", []string{"network", "rpc_endpoint"}, nil)
	descBreaker  = prometheus.NewDesc("evmgate_node_breaker_state", "The node's circuit breaker: 0 closed, 1 half-open (next call is a trial), 2 open (no calls).", []string{"network", "rpc_endpoint"}, nil)
	descShared   = prometheus.NewDesc("evmgate_node_rate_limit_shared", "For a node with rate_limit.shared: 0 while this replica counts its calls alone because Redis could not be reached; 1 otherwise (counted in Redis, or not asked for yet by an idle replica).", []string{"network", "rpc_endpoint"}, nil)
	descAttFails = prometheus.NewDesc("evmgate_node_attestation_failures_total", "Failed attestation verifications of the node, by reason.", []string{"network", "rpc_endpoint", "reason"}, nil)
)

type stateCollector struct{ snapshot func() []Network }

func (c *stateCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descLatency, descHead, descBehind, descLoad, descBest, descState, descInFlight, descNetHead, descQueue, descQueueCap, descEligible, descAttested, descAttFails, descBreaker, descShared} {
		ch <- d
	}
}

func (c *stateCollector) Collect(ch chan<- prometheus.Metric) {
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	for _, n := range c.snapshot() {
		gauge(descNetHead, float64(n.Head), n.Name)
		gauge(descEligible, float64(n.Eligible), n.Name)
		for class, depth := range n.QueueDepth {
			gauge(descQueue, float64(depth), n.Name, class)
		}
		for class, c := range n.QueueCapacity {
			gauge(descQueueCap, float64(c), n.Name, class)
		}
		for _, nd := range n.Nodes {
			gauge(descLatency, nd.Latency, n.Name, nd.Name)
			gauge(descHead, float64(nd.Head), n.Name, nd.Name)
			gauge(descBehind, float64(nd.Behind), n.Name, nd.Name)
			gauge(descLoad, nd.Load, n.Name, nd.Name)
			gauge(descInFlight, float64(nd.InFlight), n.Name, nd.Name)
			gauge(descBest, b2f(nd.Best), n.Name, nd.Name)
			if v, ok := breakerValues[nd.Breaker]; ok {
				gauge(descBreaker, v, n.Name, nd.Name)
			}
			for _, s := range nd.States {
				gauge(descState, b2f(s == nd.State), n.Name, nd.Name, nd.Tier, s)
			}
			if nd.SharedLimit != nil {
				gauge(descShared, b2f(*nd.SharedLimit), n.Name, nd.Name)
			}
			if nd.Attested != nil {
				gauge(descAttested, b2f(*nd.Attested), n.Name, nd.Name)
				for reason, count := range nd.AttestationFails {
					ch <- prometheus.MustNewConstMetric(descAttFails, prometheus.CounterValue, float64(count), n.Name, nd.Name, reason)
				}
			}
		}
	}
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

var breakerValues = map[string]float64{"closed": 0, "half_open": 1, "open": 2}
