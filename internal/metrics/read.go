package metrics

import (
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

// Each calls fn with the labels and the current value of every series of c,
// for the status page, which shows the counters' recent rates.
func Each(c prometheus.Collector, fn func(labels map[string]string, m *dto.Metric)) {
	ch := make(chan prometheus.Metric, 64)
	go func() { c.Collect(ch); close(ch) }()
	for metric := range ch {
		var d dto.Metric
		if metric.Write(&d) != nil {
			continue
		}
		labels := make(map[string]string, len(d.Label))
		for _, l := range d.Label {
			labels[l.GetName()] = l.GetValue()
		}
		fn(labels, &d)
	}
}

// Sum adds up the series of the metric name in g whose labels include
// every pair of match: counter and gauge values, histogram sample counts.
// It serves the tests and tools that read a gateway's own registry.
func Sum(g prometheus.Gatherer, name string, match map[string]string) (float64, error) {
	fams, err := g.Gather()
	if err != nil {
		return 0, err
	}
	sum := 0.0
	for _, f := range fams {
		if f.GetName() != name {
			continue
		}
	series:
		for _, m := range f.GetMetric() {
			have := make(map[string]string, len(m.GetLabel()))
			for _, l := range m.GetLabel() {
				have[l.GetName()] = l.GetValue()
			}
			for k, v := range match {
				if have[k] != v {
					continue series
				}
			}
			sum += m.GetCounter().GetValue() + m.GetGauge().GetValue() + float64(m.GetHistogram().GetSampleCount())
		}
	}
	return sum, nil
}
