package balancer

import (
	"fmt"
	"math/rand/v2"
	"sync/atomic"
	"time"

	"github.com/evmgate/evmgate/internal/upstream"
)

// Strategy picks one node among candidates that ok accepts. Candidates are
// in priority order. Implementations are safe for concurrent use and never
// block.
type Strategy interface {
	Pick(cands []*upstream.Node, ok func(*upstream.Node) bool) *upstream.Node
}

// NewStrategy returns the strategy named by the configuration.
func NewStrategy(name string) (Strategy, error) {
	switch name {
	case "p2c", "":
		return P2C{}, nil
	case "least_conn":
		return LeastConn{}, nil
	case "round_robin":
		return &RoundRobin{}, nil
	case "best":
		return Best{}, nil
	}
	return nil, fmt.Errorf("unknown strategy %q: use p2c, least_conn, round_robin or best", name)
}

var (
	_ Strategy = P2C{}
	_ Strategy = LeastConn{}
	_ Strategy = (*RoundRobin)(nil)
	_ Strategy = Best{}
)

// filter copies the accepted candidates into buf.
func filter(buf []*upstream.Node, cands []*upstream.Node, ok func(*upstream.Node) bool) []*upstream.Node {
	for _, n := range cands {
		if ok(n) {
			buf = append(buf, n)
		}
	}
	return buf
}

// cost is the expected wait on a node: calls in flight (plus this one)
// times its answer time, divided by its weight. The answer time is the
// node's peak-EWMA of time to first byte over its recent calls and probes
// (upstream.Node.AnswerTime); before the node has answered once, its probe
// latency; before any probe, 1ms.
func cost(n *upstream.Node, now int64) float64 {
	lat, ok := n.AnswerTimeAt(now)
	if !ok {
		lat = n.Latency()
	}
	if lat <= 0 {
		lat = time.Millisecond
	}
	return float64(n.InFlight()+1) * float64(lat) / float64(n.Weight)
}

// Two costs are equal for P2C when they differ by at most TieBand of the
// lower one, or by at most TieFloor.
//
// The band is the noise of the measure: one answer time from a busy host
// or network varies by tens of percent from the next, and a peak-EWMA
// follows every peak, so two identical nodes rarely show the same
// estimate; comparing them exactly would send every call of a light load
// (one call at a time, nothing in flight) to whichever node happened to
// measure lower. 25% keeps what matters apart: a node 1.5× or more slower
// is never its equal, and under load, where costs are multiples of the
// calls in flight, 4 and 5 in flight on equal nodes are equal while 3 and
// 5 are not. The floor covers fast nodes on a local network, where answer
// times are fractions of a millisecond and a scheduling delay on the host
// is the whole difference; a millisecond per call is also below what a
// client of the gateway can notice.
const (
	TieBand  = 0.25
	TieFloor = float64(time.Millisecond)
)

// PassOverFade is how much a node's answer-time estimate fades each time
// P2C passes it over, idle, for a cheaper node. A node that is passed over
// gets no calls, so no answers to update its estimate: only the estimate's
// fade with time (upstream.LatencyDecay) brings it back, after a second or
// so, which at a thousand calls a second is a thousand calls to its peer. Fading per decision ages the estimate in calls as well as
// in time: a node avoided for an answer k times slower than its peer's is
// tried again after about ln(k/1.25)/0.1 picks (9 for 3×, 44 for 100×),
// and that answer sets its estimate afresh. A node that stays slow is
// thus tried about once in ten calls at light load, and no more under
// load, where its calls in flight weigh on its cost too.
const PassOverFade = 0.1

// tied reports whether costs a and b are equal within the noise.
func tied(a, b float64) bool {
	lo, hi := min(a, b), max(a, b)
	return hi-lo <= max(lo*TieBand, TieFloor)
}

// P2C samples two candidates and takes the cheaper; when their costs are
// tied (within the noise of each other) it takes either at random, so equal
// nodes share the traffic at any load, one call at a time included.
type P2C struct{}

func (p P2C) Pick(cands []*upstream.Node, ok func(*upstream.Node) bool) *upstream.Node {
	return p.pick(cands, ok, upstream.Now())
}

// pick is Pick at now (from upstream.Now).
func (P2C) pick(cands []*upstream.Node, ok func(*upstream.Node) bool, now int64) *upstream.Node {
	var buf [16]*upstream.Node
	c := filter(buf[:0], cands, ok)
	switch len(c) {
	case 0:
		return nil
	case 1:
		return c[0]
	}
	i := rand.IntN(len(c))
	j := rand.IntN(len(c) - 1)
	if j >= i {
		j++
	}
	ci, cj := cost(c[i], now), cost(c[j], now)
	switch {
	case tied(ci, cj):
		return c[i] // c[i] is a uniformly random one of the two
	case cj < ci:
		passOver(c[i])
		return c[j]
	default:
		passOver(c[j])
		return c[i]
	}
}

// passOver ages the estimate of a node P2C did not take, when the node has
// no call in flight that will soon bring a fresh answer time.
func passOver(n *upstream.Node) {
	if n.InFlight() == 0 {
		n.FadeAnswerTime(1 - PassOverFade)
	}
}

// LeastConn takes the candidate with the fewest calls in flight per weight.
// Ties are broken at random, so idle nodes share the traffic (HAProxy's
// leastconn likewise rotates among equals) rather than the first taking it all.
type LeastConn struct{}

func (LeastConn) Pick(cands []*upstream.Node, ok func(*upstream.Node) bool) *upstream.Node {
	var best *upstream.Node
	var bestLoad float64
	ties := 0
	for _, n := range cands {
		if !ok(n) {
			continue
		}
		l := float64(n.InFlight()) / float64(n.Weight)
		switch {
		case best == nil || l < bestLoad:
			best, bestLoad, ties = n, l, 1
		case l == bestLoad:
			ties++ // reservoir sampling: each tied node ends up chosen with probability 1/ties
			if rand.IntN(ties) == 0 {
				best = n
			}
		}
	}
	return best
}

// RoundRobin cycles through candidates in proportion to their weights.
type RoundRobin struct{ next atomic.Uint64 }

func (r *RoundRobin) Pick(cands []*upstream.Node, ok func(*upstream.Node) bool) *upstream.Node {
	var buf [16]*upstream.Node
	c := filter(buf[:0], cands, ok)
	if len(c) == 0 {
		return nil
	}
	total := 0
	for _, n := range c {
		total += n.Weight
	}
	k := int(r.next.Add(1) % uint64(total))
	for _, n := range c {
		if k < n.Weight {
			return n
		}
		k -= n.Weight
	}
	return c[0]
}

// Best always takes the first accepted candidate in priority order.
type Best struct{}

func (Best) Pick(cands []*upstream.Node, ok func(*upstream.Node) bool) *upstream.Node {
	for _, n := range cands {
		if ok(n) {
			return n
		}
	}
	return nil
}
