package engine

import (
	gwmetrics "github.com/evmgate/evmgate/internal/metrics"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the Mux's Prometheus collectors, all prefixed evmgate_engine_.
// Labels take node names from the configuration, known method names and
// fixed outcome words only.
type metrics struct {
	votes         *prometheus.CounterVec   // method, outcome
	disagreements *prometheus.CounterVec   // method
	requests      *prometheus.CounterVec   // method, result
	duration      *prometheus.HistogramVec // method
	nodeStatus    *prometheus.GaugeVec     // node, status
	voting        *prometheus.GaugeVec     // node
	latency       *prometheus.HistogramVec // node, kind
	failures      *prometheus.CounterVec   // node
	garbage       *prometheus.CounterVec   // node
	authFailures  prometheus.Counter
}

var latencyBuckets = []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		votes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "evmgate_engine_votes_total",
			Help: "Quorum outcomes of newPayload and forkchoiceUpdated, by answer given to the consensus client.",
		}, []string{"method", "outcome"}),
		disagreements: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "evmgate_engine_disagreements_total",
			Help: "newPayload/forkchoiceUpdated calls on which voting nodes did not all give the same answer.",
		}, []string{"method"}),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "evmgate_engine_requests_total",
			Help: "Calls from the consensus client, by method and result (ok or error).",
		}, []string{"method", "result"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "evmgate_engine_request_duration_seconds",
			Help:    "Time to answer the consensus client, by method.",
			Buckets: latencyBuckets,
		}, []string{"method"}),
		nodeStatus: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "evmgate_engine_node_status",
			Help: "1 for the node's current state (alive, syncing, dead), 0 for the others.",
		}, []string{"node", "status"}),
		voting: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "evmgate_engine_node_voting",
			Help: "1 while the node's newPayload/forkchoiceUpdated answers are waited for and counted: alive, not do-not-use, and not stalled (its last such call answered in time).",
		}, []string{"node"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "evmgate_engine_node_latency_seconds",
			Help:    "Round trip of calls to a node, by kind (ordered, getPayload, single, probe).",
			Buckets: latencyBuckets,
		}, []string{"node", "kind"}),
		failures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "evmgate_engine_node_failures_total",
			Help: "Calls to a node that got no answer (transport error, timeout, HTTP error, unreadable body).",
		}, []string{"node"}),
		garbage: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "evmgate_engine_node_garbage_total",
			Help: "Answers from a node that were not a valid result for the method.",
		}, []string{"node"}),
		authFailures: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "evmgate_engine_auth_failures_total",
			Help: "Requests from the consensus client rejected with HTTP 401.",
		}),
	}
	var err error
	m.votes = gwmetrics.Register(reg, m.votes, &err)
	m.disagreements = gwmetrics.Register(reg, m.disagreements, &err)
	m.requests = gwmetrics.Register(reg, m.requests, &err)
	m.duration = gwmetrics.Register(reg, m.duration, &err)
	m.nodeStatus = gwmetrics.Register(reg, m.nodeStatus, &err)
	m.voting = gwmetrics.Register(reg, m.voting, &err)
	m.latency = gwmetrics.Register(reg, m.latency, &err)
	m.failures = gwmetrics.Register(reg, m.failures, &err)
	m.garbage = gwmetrics.Register(reg, m.garbage, &err)
	m.authFailures = gwmetrics.Register(reg, m.authFailures, &err)
	return m, err
}

var stateNames = []state{stateAlive, stateSyncing, stateDead}

func (m *metrics) setNodeState(node string, s state) {
	for _, st := range stateNames {
		v := 0.0
		if st == s {
			v = 1
		}
		m.nodeStatus.WithLabelValues(node, st.String()).Set(v)
	}
}
