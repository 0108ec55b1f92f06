package restapi

import (
	"fmt"
	"strconv"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics counts the REST requests. Labels take configured network names,
// the fixed route names and the few statuses the handler writes.
type metrics struct {
	requests *prometheus.CounterVec // network, route, status
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{requests: prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "evmgate_rest_requests_total",
		Help: "Requests to the REST routes (rest_api), by route and HTTP status (101: handed to the WebSocket server; client_gone: the client left before the answer).",
	}, []string{"network", "route", "status"})}
	if err := reg.Register(m.requests); err != nil {
		return nil, fmt.Errorf("registering rest api metrics: %w", err)
	}
	return m, nil
}

func (m *metrics) count(network, route string, status int) {
	s := "client_gone"
	if status != 0 {
		s = strconv.Itoa(status)
	}
	m.requests.WithLabelValues(network, route, s).Inc()
}
