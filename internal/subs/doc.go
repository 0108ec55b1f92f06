// Package subs holds eth_subscribe fan-out: one upstream subscription per
// distinct (network, kind, filter), shared by every client that asks for it,
// that survives the failure of the node behind it.
//
// It sits behind the WebSocket server (package ws), which owns the client
// connections and the upstream WebSocket connections. A Hub serves one
// network. Each distinct subscription is a feed: one goroutine that opens an
// upstream subscription on the best eligible node (a node without a
// WebSocket endpoint feeds newHeads and logs by polling over HTTP), hands
// every notification to each subscriber's Sink, and moves to another node
// when the stream ends or its node stops being eligible.
//
// A move is invisible to clients:
//   - newHeads: the feed remembers the hashes of the heights it delivered.
//     A header whose parent is not the delivered one is walked back through
//     its ancestors (fetched by hash from the serving node) until it links,
//     so missed heights are delivered in order, heights already delivered
//     are not repeated, and after a reorg the new chain's headers from the
//     fork point on are delivered, as a node does.
//   - logs: the feed remembers the logs it delivered per recent block. After
//     a move it checks those blocks are still canonical on the new node
//     (re-sending the logs of replaced blocks with "removed": true) and
//     fetches the logs of the blocks it may have missed with eth_getLogs;
//     a log already delivered is never delivered again.
//   - newPendingTransactions: recent hashes are remembered so a move does not
//     repeat them; syncing and other kinds pass through.
//
// Sinks must not block: a client that cannot keep up is the ws package's to
// cut off, and no other subscriber ever waits for it. When the last
// subscriber of a feed leaves, the upstream subscription stays open for a
// grace period in case another client asks for it, then closes.
package subs
