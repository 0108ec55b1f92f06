package balancer

import (
	"fmt"
	"math/rand/v2"
	"sync/atomic"

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

// cost is the expected wait on a node: calls in flight (plus this one) times
// its latency, divided by its weight.
func cost(n *upstream.Node) float64 {
	lat := float64(n.Latency())
	if lat <= 0 {
		lat = 1e6 // 1ms until measured
	}
	return float64(n.InFlight()+1) * lat / float64(n.Weight)
}

// P2C samples two candidates and takes the cheaper.
type P2C struct{}

func (P2C) Pick(cands []*upstream.Node, ok func(*upstream.Node) bool) *upstream.Node {
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
	if cost(c[j]) < cost(c[i]) {
		return c[j]
	}
	return c[i]
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
