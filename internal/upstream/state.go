package upstream

import "strings"

// StateMode is what is known of how much old state a node keeps.
type StateMode uint32

const (
	// StateUnknown: not configured nor detected yet; the node is taken to
	// hold any state (a call it cannot serve fails over as before).
	StateUnknown StateMode = iota
	// StateArchive: the node holds the state of every block.
	StateArchive
	// StateFull: the node holds state only for the newest StateWindow
	// blocks below its head.
	StateFull
)

func (m StateMode) String() string {
	switch m {
	case StateArchive:
		return "archive"
	case StateFull:
		return "full"
	}
	return "unknown"
}

// DefaultStateWindow is the state window of a full node when none is
// configured: go-ethereum keeps the state of the newest 128 blocks.
const DefaultStateWindow = 128

// stateWindow is the node's full-node state window.
func (n *Node) stateWindow() uint64 {
	if n.StateWindow > 0 {
		return n.StateWindow
	}
	return DefaultStateWindow
}

// StateMode returns what is known of the node's old state.
func (n *Node) StateMode() StateMode { return StateMode(n.stateMode.Load()) }

// StateWindowBlocks returns the window a full node keeps state for (also
// the probe's depth when the mode is detected).
func (n *Node) StateWindowBlocks() uint64 { return n.stateWindow() }

// Detected reports whether the node's mode is learned from its answers
// rather than configured.
func (n *Node) Detected() bool { return n.Spec.State == StateUnknown }

// LearnState records a detected mode. A configured mode never changes;
// it reports whether the mode changed.
func (n *Node) LearnState(m StateMode) bool {
	if !n.Detected() || m == StateUnknown {
		return false
	}
	if StateMode(n.stateMode.Swap(uint32(m))) == m {
		return false
	}
	n.changed()
	return true
}

// HasState reports whether the node holds the state at block: an archive
// node, a node whose mode is unknown and a node whose head is unknown do;
// a full node does when block is within its window below its head.
func (n *Node) HasState(block uint64) bool {
	if n.StateMode() != StateFull || !n.HasHead() {
		return true
	}
	return block+n.stateWindow() >= n.Head()
}

// stateMessages are node error messages that mean "this node no longer
// holds the state of that block" (a full node asked about an old block):
//
//   - go-ethereum: "missing trie node <hash> (path …)", "required
//     historical state unavailable (reexec=128)", path scheme: "state <root>
//     is not available", "historical state not available";
//   - Nethermind: "No state available for block …", a
//     MissingTrieNodeException "… is missing from the DB";
//   - Besu: "World state unavailable";
//   - reth: "State at block #N is pruned";
//   - OpenEthereum: "… your node is running with state pruning".
var stateMessages = []string{
	"missing trie node",
	"historical state unavailable",
	"historical state not available",
	"no state available",
	"is missing from the db",
	"world state unavailable",
	"state at block #",
	"running with state pruning",
}

// StateMissing reports whether a node's error message says it lacks the
// state of the block asked for.
func StateMissing(message string) bool {
	m := strings.ToLower(message)
	if containsAny(m, stateMessages) {
		return true
	}
	// go-ethereum's path scheme names the root between the words.
	i := strings.Index(m, "state 0x")
	return i >= 0 && strings.Contains(m[i:], " is not available")
}
