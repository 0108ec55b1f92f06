package gateway

import (
	"github.com/evmgate/evmgate/internal/config"
	"github.com/evmgate/evmgate/internal/consistent"
	"github.com/evmgate/evmgate/internal/upstream"
)

// stateMode is a configured node's state mode: archive: true|false, or
// detected when unset.
func stateMode(nd config.Node) upstream.StateMode {
	switch {
	case nd.Archive == nil:
		return upstream.StateUnknown
	case *nd.Archive:
		return upstream.StateArchive
	}
	return upstream.StateFull
}

// setHistory fills a node status's history fields.
func setHistory(s *NodeStatus, nd *upstream.Node) {
	mode := nd.StateMode()
	s.History, s.HistorySource = mode.String(), "configured"
	if nd.Detected() {
		s.HistorySource = "detected"
	}
	if mode == upstream.StateFull {
		s.StateWindow = nd.StateWindowBlocks()
	}
}

// consistentSettings are a network's consistent-read bounds.
func consistentSettings(n config.Network) consistent.Settings {
	c := n.ConsistentReads
	return consistent.Settings{MaxClients: c.MaxClients, TTL: c.TTL.D(), PinFor: c.WritePin.D()}
}

// consistentTracker returns the network's client table: the one of the
// network it replaces when the bounds are the same (clients keep their
// state across a reload), nil when consistent reads are off.
func consistentTracker(n config.Network, old *network) (*consistent.Tracker, error) {
	if !n.ConsistentReads.On() {
		return nil, nil
	}
	if old != nil && old.consistent != nil && consistentSettings(old.cfg) == consistentSettings(n) {
		return old.consistent, nil
	}
	return consistent.New(consistentSettings(n))
}
