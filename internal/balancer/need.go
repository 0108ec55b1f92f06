package balancer

import "github.com/evmgate/evmgate/internal/upstream"

// Need is what a call asks of the node that serves it. The zero Need asks
// nothing. It is passed by value down the pick path and never allocates.
type Need struct {
	// MinHead, when not 0, skips nodes whose head is below it (the call
	// names that block). A MinHead beyond the network head is dropped: any
	// node answers the same.
	MinHead uint64
}

// fits reports whether n meets the need, slots and tries aside.
func (need Need) fits(n *upstream.Node) bool {
	return need.MinHead == 0 || n.Head() >= need.MinHead
}
