package metrics

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// Metrics holds the gateway's collectors.
type Metrics struct {
	Requests        *prometheus.CounterVec   // loadbalancer_requests_total{network}
	RequestDuration *prometheus.HistogramVec // loadbalancer_request_duration_seconds{network}
	NodeErrors      *prometheus.CounterVec   // loadbalancer_node_errors_total{network,rpc_endpoint,type}
	Calls           *prometheus.CounterVec   // evmgate_calls_total{network,method,status}
	NodeTries       *prometheus.CounterVec   // evmgate_node_requests_total{network,rpc_endpoint,outcome}
	Retries         *prometheus.CounterVec   // evmgate_retries_total{network}
	TxBroadcasts    *prometheus.CounterVec   // evmgate_tx_broadcasts_total{network,outcome}
	NodeCoolDowns   *prometheus.CounterVec   // evmgate_node_cooldowns_total{network,rpc_endpoint,source}
	QueueWait       *prometheus.HistogramVec // evmgate_queue_wait_seconds{network,class}
	QueueRejected   *prometheus.CounterVec   // evmgate_queue_rejected_total{network,class,reason}
}

// New registers the gateway's metrics on reg, with snapshot feeding the
// per-node and per-network gauges at scrape time.
func New(reg prometheus.Registerer, snapshot func() []Network) (*Metrics, error) {
	m := &Metrics{
		Requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "loadbalancer_requests_total", Help: "Client HTTP requests handled, per network.",
		}, []string{"network"}),
		RequestDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "loadbalancer_request_duration_seconds", Help: "Time to answer a client HTTP request.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30},
		}, []string{"network"}),
		NodeErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "loadbalancer_node_errors_total", Help: "Failed probes and tries per node, by kind.",
		}, []string{"network", "rpc_endpoint", "type"}),
		Calls: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "evmgate_calls_total", Help: "JSON-RPC calls answered, by method and status (ok, rpc_error, gateway_error).",
		}, []string{"network", "method", "status"}),
		NodeTries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "evmgate_node_requests_total", Help: "Upstream requests per node, by outcome (ok, rpc_error, or a failure kind).",
		}, []string{"network", "rpc_endpoint", "outcome"}),
		Retries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "evmgate_retries_total", Help: "Upstream tries after the first, per network.",
		}, []string{"network"}),
		TxBroadcasts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "evmgate_tx_broadcasts_total", Help: "Copies of accepted transactions sent to the other nodes (broadcast_transactions), by their answer: accepted, known, refused or failed; skipped: the node was busy or at its rate limit.",
		}, []string{"network", "outcome"}),
		NodeCoolDowns: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "evmgate_node_cooldowns_total", Help: "Times a node started to cool down after it answered that calls come too fast (HTTP 429 or a rate limit error); source: answer (met here) or replica (another replica met it; a shared rate limit).",
		}, []string{"network", "rpc_endpoint", "source"}),
		QueueWait: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "evmgate_queue_wait_seconds", Help: "Time a call waited for a worker, per priority class.",
			Buckets: []float64{.0001, .0005, .001, .005, .01, .05, .1, .5, 1, 5},
		}, []string{"network", "class"}),
		QueueRejected: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "evmgate_queue_rejected_total", Help: "Calls refused (full queue) or expired while queued, per class.",
		}, []string{"network", "class", "reason"}),
	}
	cs := []prometheus.Collector{m.Requests, m.RequestDuration, m.NodeErrors, m.Calls, m.NodeTries, m.Retries, m.TxBroadcasts, m.NodeCoolDowns,
		m.QueueWait, m.QueueRejected, &stateCollector{snapshot: snapshot},
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{})}
	for _, c := range cs {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	return m, nil
}
