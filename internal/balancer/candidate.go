package balancer

import (
	"slices"

	"github.com/evmgate/evmgate/internal/upstream"
)

// HasCandidate reports whether any node not in tried could take a call of
// method ("": any) once it has a free worker slot (busy nodes count;
// wrong-chain nodes and nodes whose methods lists refuse the method do
// not). A call with no candidate at all is answered at once instead of
// queued.
func (p *Pool) HasCandidate(tried []*upstream.Node, method string) bool {
	v := p.view.Load()
	for _, set := range [][]*upstream.Node{v.Active, v.Backup, v.Rest} {
		for _, n := range set {
			if !slices.Contains(tried, n) && (method == "" || n.Admits(method)) {
				return true
			}
		}
	}
	return false
}
