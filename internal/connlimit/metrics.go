package connlimit

import (
	"cmp"
	"slices"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
)

// TopN is how many client addresses the top gauge shows per listener.
const TopN = 10

// Metrics counts connections of the wrapped listeners.
type Metrics struct {
	open         *prometheus.GaugeVec
	refusedTotal *prometheus.CounterVec
	top          *prometheus.Desc

	mu        sync.Mutex           // mu protects listeners
	listeners map[string]*Listener // by name
}

var _ prometheus.Collector = (*Metrics)(nil)

// NewMetrics registers the metrics on reg.
func NewMetrics(reg prometheus.Registerer) (*Metrics, error) {
	m := &Metrics{
		open: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "evmgate_listener_connections",
			Help: "Client connections open on a listener.",
		}, []string{"listener"}),
		refusedTotal: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "evmgate_listener_refused_connections_total",
			Help: "Client connections closed at once because a limit was reached (reason per_ip: max_connections_per_ip).",
		}, []string{"listener", "reason"}),
		top: prometheus.NewDesc("evmgate_listener_top_client_connections",
			"Open connections of the client addresses (IPv6: /64) holding the most, at most 10 per listener.",
			[]string{"listener", "client"}, nil),
		listeners: map[string]*Listener{},
	}
	for _, c := range []prometheus.Collector{m.open, m.refusedTotal, m} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	return m, nil
}

func (m *Metrics) add(name string, l *Listener) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.listeners[name] = l
	m.open.WithLabelValues(name)
	m.refusedTotal.WithLabelValues(name, "per_ip")
}

func (m *Metrics) opened(name string, d float64) {
	if m != nil {
		m.open.WithLabelValues(name).Add(d)
	}
}

func (m *Metrics) refused(name, reason string) {
	if m != nil {
		m.refusedTotal.WithLabelValues(name, reason).Inc()
	}
}

// Describe implements prometheus.Collector for the top gauge.
func (m *Metrics) Describe(ch chan<- *prometheus.Desc) { ch <- m.top }

// Collect implements prometheus.Collector: the top clients of each
// listener, computed now.
func (m *Metrics) Collect(ch chan<- prometheus.Metric) {
	m.mu.Lock()
	ls := make(map[string]*Listener, len(m.listeners))
	for k, v := range m.listeners {
		ls[k] = v
	}
	m.mu.Unlock()
	for name, l := range ls {
		for _, c := range l.Top(TopN) {
			ch <- prometheus.MustNewConstMetric(m.top, prometheus.GaugeValue, float64(c.Open), name, c.Client)
		}
	}
}

// Client is one client address and its open connections.
type Client struct {
	Client string `json:"client"`
	Open   int    `json:"open"`
}

// Top returns the n clients with the most open connections, most first.
func (l *Listener) Top(n int) []Client {
	l.mu.Lock()
	all := make([]Client, 0, len(l.open))
	for k, v := range l.open {
		all = append(all, Client{Client: k, Open: v})
	}
	l.mu.Unlock()
	slices.SortFunc(all, func(a, b Client) int {
		return cmp.Or(cmp.Compare(b.Open, a.Open), cmp.Compare(a.Client, b.Client))
	})
	return all[:min(n, len(all))]
}
