package config

import (
	"fmt"

	"github.com/evmgate/evmgate/internal/access"
	"github.com/evmgate/evmgate/internal/methodset"
)

// Warnings lists what a valid Config does that is likely not meant, each
// as "key path: what happens, and the fix", in the order of the file: a
// node whose methods lists admit no method, and a network none of whose
// nodes admits eth_blockNumber while its clients may call it. Neither
// stops a start.
func (c *Config) Warnings() []string {
	var w problems
	for i := range c.Networks {
		c.Networks[i].warnings(fmt.Sprintf("networks[%d]", i), &c.Access, &w)
	}
	return w
}

// noReads are the calls a network whose nodes admit no eth_blockNumber
// cannot serve its clients: eth_blockNumber itself, and eth_subscribe,
// whose feeds poll eth_blockNumber.
var noReads = []string{"eth_blockNumber", "eth_subscribe"}

func (n *Network) warnings(path string, acc *access.Config, w *problems) {
	nodes, blockNumber := 0, false
	for _, tier := range []struct {
		key   string
		nodes []Node
	}{{"local_nodes", n.LocalNodes}, {"monitoring_nodes", n.MonitoringNodes}, {"fallback_nodes", n.FallbackNodes}} {
		for i := range tier.nodes {
			nd := &tier.nodes[i]
			nodes++
			if why := nd.Methods.AdmitsNothing(); why != "" {
				w.add(fmt.Sprintf("%s.%s[%d].methods", path, tier.key, i),
					"node %q is sent no call (it is still probed): %s; narrow its deny list, or remove the node",
					nd.DisplayName(), why)
			} else if methodset.NewFilter(nd.Methods).Admits("eth_blockNumber") {
				blockNumber = true
			}
		}
	}
	if nodes > 0 && !blockNumber && !refusesAll(acc, n.Name, noReads) {
		// The health probes call the node directly, whatever its lists:
		// nodes are still probed, and head tracking goes on; clients'
		// calls are what is lost. A network meant for sending
		// transactions only says so by refusing those calls to its
		// clients (access.networks.<name>.methods), which then get the
		// policy's refusal instead of -32601.
		w.add(path, "no node of network %q admits eth_blockNumber by its methods lists: "+
			"the gateway answers eth_blockNumber with -32601 and no node can serve eth_subscribe (the health probes still reach every node); "+
			"add eth_blockNumber to a node's methods.allow, or take it out of its methods.deny; "+
			"for a network meant to serve no reads, refuse eth_blockNumber and eth_subscribe to its clients in access.networks.%s.methods "+
			"(such as allow: [eth_sendRawTransaction, eth_chainId])", n.Name, n.Name)
	}
}

// refusesAll reports whether the access policy refuses every one of
// methods to every client of network.
func refusesAll(acc *access.Config, network string, methods []string) bool {
	for _, m := range methods {
		if !acc.Refuses(network, m) {
			return false
		}
	}
	return true
}
