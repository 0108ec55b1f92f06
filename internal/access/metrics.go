package access

import (
	"errors"

	"github.com/evmgate/evmgate/internal/jsonrpc"
	"github.com/prometheus/client_golang/prometheus"
)

type metrics struct {
	refusedVec  *prometheus.CounterVec
	byCode      map[int]prometheus.Counter
	redisErrors prometheus.Counter
}

var refusalReasons = map[int]string{
	jsonrpc.CodeUnauthorized:       "unauthorized",
	jsonrpc.CodeForbidden:          "forbidden",
	jsonrpc.CodeMethodNotOffered:   "method_not_offered",
	jsonrpc.CodeRateLimited:        "rate_limited",
	jsonrpc.CodeQuotaExceeded:      "quota_exceeded",
	jsonrpc.CodeLimiterUnavailable: "limiter_unavailable",
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		refusedVec: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "evmgate_access_refused_total",
			Help: "Calls refused before reaching a node, by reason.",
		}, []string{"reason"}),
		redisErrors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "evmgate_access_redis_errors_total",
			Help: "Shared rate-limit checks that Redis could not answer.",
		}),
		byCode: map[int]prometheus.Counter{},
	}
	if reg != nil {
		// A second Access on one registry (tests) shares the first's collectors.
		if err := reg.Register(m.refusedVec); err != nil {
			var are prometheus.AlreadyRegisteredError
			if !errors.As(err, &are) {
				return nil, err
			}
			m.refusedVec = are.ExistingCollector.(*prometheus.CounterVec)
		}
		if err := reg.Register(m.redisErrors); err != nil {
			var are prometheus.AlreadyRegisteredError
			if !errors.As(err, &are) {
				return nil, err
			}
			m.redisErrors = are.ExistingCollector.(prometheus.Counter)
		}
	}
	for code, reason := range refusalReasons {
		m.byCode[code] = m.refusedVec.WithLabelValues(reason)
	}
	return m, nil
}

func (m *metrics) refused(code int) {
	if c := m.byCode[code]; c != nil {
		c.Inc()
	}
}
