package gateway

import (
	"math"
	"time"

	"github.com/evmgate/evmgate/internal/metrics"
	"github.com/evmgate/evmgate/internal/upstream"
	dto "github.com/prometheus/client_model/go"
)

// notNodeFault holds the outcomes of tries that failed for reasons that say
// nothing about the node (upstream.Error.NodeFault).
var notNodeFault = func() map[string]bool {
	m := map[string]bool{}
	for _, k := range upstream.Kinds {
		if !(&upstream.Error{Kind: k}).NodeFault() {
			m[k.String()] = true
		}
	}
	return m
}()

// read takes the history's reading: the proxy's counters per network and
// node, and each node's lag in the current view.
func (g *Gateway) read(now time.Time) reading {
	calls := map[string]float64{}
	metrics.Each(g.metrics.Calls, func(l map[string]string, d *dto.Metric) {
		calls[l["network"]] += d.GetCounter().GetValue()
	})
	type key struct{ network, node string }
	tries, errs := map[key]float64{}, map[key]float64{}
	metrics.Each(g.metrics.NodeTries, func(l map[string]string, d *dto.Metric) {
		k := key{l["network"], l["rpc_endpoint"]}
		switch outcome := l["outcome"]; {
		case outcome == "canceled", outcome == "request":
			// The client went away or the call could not be sent: not the
			// node's doing.
		case outcome == "ok", notNodeFault[outcome]:
			// Answered (a result or the method's own error), or failed for
			// the call's own doing: a request or an answer over a limit,
			// the call's own deadline.
			tries[k] += d.GetCounter().GetValue()
		default:
			tries[k] += d.GetCounter().GetValue()
			errs[k] += d.GetCounter().GetValue()
		}
	})
	durations := map[string]*dto.Histogram{}
	metrics.Each(g.metrics.RequestDuration, func(l map[string]string, d *dto.Metric) {
		durations[l["network"]] = d.GetHistogram()
	})

	r := reading{at: now}
	for _, n := range g.networks() {
		nr := netReading{name: n.cfg.Name, calls: calls[n.cfg.Name]}
		if hist := durations[n.cfg.Name]; hist != nil {
			nr.count = hist.GetSampleCount()
			for _, b := range hist.GetBucket() {
				if math.IsInf(b.GetUpperBound(), 1) {
					continue
				}
				nr.bounds = append(nr.bounds, b.GetUpperBound())
				nr.buckets = append(nr.buckets, b.GetCumulativeCount())
			}
		}
		v := n.pool.View()
		for _, nd := range v.All {
			lag := math.NaN()
			if nd.HasHead() {
				lag = float64(int64(v.Head) - int64(nd.Head()))
			}
			k := key{n.cfg.Name, nd.Name}
			nr.nodes = append(nr.nodes, nodeReading{name: nd.Name, lag: lag, tries: tries[k], errors: errs[k]})
		}
		r.nets = append(r.nets, nr)
	}
	return r
}
