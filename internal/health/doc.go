// Package health keeps every node's live state current. A Monitor owns one
// prober goroutine per node of a network; each probe, at the node's tier
// interval, asks in one batch for eth_blockNumber, the latest block's
// timestamp and eth_syncing, measures the round trip (smoothed), and, with
// use_load_tracker, reads the host load from the node exporter. eth_chainId
// is checked when a node is first seen and whenever it comes back from down;
// a node on another chain than the network's (chain_id, or the id most nodes
// report) is never served.
//
// Every fourth probe also reads the node's finalized block
// (eth_getBlockByNumber "finalized"); the network's finalized block is the
// lower median of the nodes' values, so one node cannot move it forward.
// The response cache keeps by-number answers only at or below it.
//
// A node whose history is not configured (archive unset) is probed for
// it: the balance of the zero address at head - 2*state_window. Reading
// one account is the cheapest state access a node has, the zero address
// exists on every chain, and twice the window keeps the answer from
// flipping while blocks arrive during the probe. A result makes the node an
// archive node, a missing-state error (upstream.StateMissing) a full node
// keeping state_window blocks; any other answer leaves it as it was. The
// probe runs while the node is undetected (and the chain is long enough),
// then every 60 probe intervals.
//
// A node is marked down after down_after failed probes in a row, and its
// last head is forgotten. Request outcomes feed the same state (Observe): a
// refused connection marks the node down at once, and down_after failed
// requests in a row do too, so a failing node is out before its next probe;
// it comes back only through a good probe. Only outcomes that say something
// about the node count (Counts); nothing a client can ask for does.
//
// A probe or request that fails the node's attestation (its TLS certificate
// did not verify) marks it unattested at once, with the failure as the
// state's reason; it is never served, not even as a last resort, until a
// probe at its interval passes again.
package health
