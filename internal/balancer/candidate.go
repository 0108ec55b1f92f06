package balancer

import (
	"slices"

	"github.com/evmgate/evmgate/internal/upstream"
)

// HasCandidate reports whether any node not in tried could take a call
// with need once it has a free worker slot (busy nodes count; wrong-chain
// nodes and nodes whose methods lists refuse it, need.Admits, do not). A call with no candidate at all is answered at once instead of
// queued.
func (p *Pool) HasCandidate(tried []*upstream.Node, need Need) bool {
	v := p.view.Load()
	for _, set := range [][]*upstream.Node{v.Active, v.Backup, v.Rest} {
		for _, n := range set {
			if !slices.Contains(tried, n) && need.Admits(n) {
				return true
			}
		}
	}
	return false
}
