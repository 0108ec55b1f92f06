package balancer

import (
	"strconv"

	"github.com/evmgate/evmgate/internal/upstream"
)

// Reason says why n is not eligible in v, in a few words for the status
// page and GET /status; "" when it is eligible. It applies the same rules
// as the view's eligibility.
func (p *Pool) Reason(v *View, n *upstream.Node) string {
	if v.Eligible(n) {
		return ""
	}
	p.mu.Lock()
	r := p.rules
	p.mu.Unlock()
	return reason(r, v.Head, n)
}

func reason(r Rules, head uint64, n *upstream.Node) string {
	switch st := n.State(); st {
	case upstream.Up:
	case upstream.Unknown:
		return "not probed yet"
	case upstream.WrongChain:
		return "wrong chain (chain id " + strconv.FormatUint(n.ChainID(), 10) + ")"
	default:
		return st.String()
	}
	if !n.HasHead() {
		return "no head yet"
	}
	if n.Gate() == upstream.GateOpen {
		return "circuit breaker open: calls kept failing"
	}
	h := n.Head()
	if h > head {
		if h-head > r.NetworkBlockDiff {
			return "ahead of the confirmed head by " + blocks(h-head)
		}
		return ""
	}
	key, diff := "network_block_diff", r.NetworkBlockDiff
	if n.Tier == upstream.Fallback {
		key, diff = "fallback_block_diff", r.FallbackBlockDiff
	}
	if head-h > diff {
		return "lagging " + blocks(head-h) + " (" + key + " " + strconv.FormatUint(diff, 10) + ")"
	}
	return ""
}

func blocks(n uint64) string {
	if n == 1 {
		return "1 block"
	}
	return strconv.FormatUint(n, 10) + " blocks"
}
