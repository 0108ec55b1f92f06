package engine

import (
	"time"

	gwmetrics "github.com/evmgate/evmgate/internal/metrics"
	dto "github.com/prometheus/client_model/go"
)

// Overview is the multiplexer's state for the gateway's status page.
type Overview struct {
	// Primary is the node that answers single-node calls ("" when none is
	// synced).
	Primary string         `json:"primary"`
	Nodes   []NodeOverview `json:"nodes"`
	// Votes counts the quorum outcomes of newPayload and
	// forkchoiceUpdated since start, by the answer given to the consensus
	// client (VALID, INVALID, SYNCING, ..., or error).
	Votes map[string]uint64 `json:"votes"`
	// Disagreements counts calls on which the voting nodes did not all
	// give the same answer.
	Disagreements uint64 `json:"disagreements"`
}

// NodeOverview is one execution client in Overview.
type NodeOverview struct {
	Name  string `json:"name"`
	State string `json:"state"` // alive, syncing or dead
	// Votes is whether its answers count in the quorum now.
	Votes    bool    `json:"votes"`
	DoNotUse bool    `json:"do_not_use,omitempty"`
	RTTMS    float64 `json:"rtt_ms"` // last probe round trip
}

// Overview returns the nodes, their states and the vote tallies.
func (m *Mux) Overview() Overview {
	o := Overview{Votes: map[string]uint64{}}
	if p := m.primary(); p != nil {
		o.Primary = p.name
	}
	for _, n := range m.nodeList() {
		o.Nodes = append(o.Nodes, NodeOverview{
			Name: n.name, State: n.getState().String(), Votes: n.votes(), DoNotUse: n.doNotUse,
			RTTMS: float64(time.Duration(n.rtt.Load()).Microseconds()) / 1000,
		})
	}
	gwmetrics.Each(m.metrics.votes, func(labels map[string]string, d *dto.Metric) {
		o.Votes[labels["outcome"]] += uint64(d.GetCounter().GetValue())
	})
	gwmetrics.Each(m.metrics.disagreements, func(_ map[string]string, d *dto.Metric) {
		o.Disagreements += uint64(d.GetCounter().GetValue())
	})
	return o
}
