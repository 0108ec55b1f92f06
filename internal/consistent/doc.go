// Package consistent keeps each client's view of a network consistent
// while its calls are spread over nodes that disagree.
//
// A client is named by the request (the X-Client-ID header; an API key's
// identity where one is set). Its state is two things:
//
//   - the highest head it has been served. The proxy routes a call at the
//     head ("latest", "pending", an omitted block, eth_blockNumber) only to
//     nodes whose head is at least that, so the client never sees the chain
//     go back. The head is learnt cheaply at answer time: the answering
//     node's known head, and the number itself in an eth_blockNumber answer
//     (which also raises the node's known head, since the node showed it).
//     A node out of rotation that reached that head still serves such a
//     call before any node below it; only when no node has (the one that
//     served it went down) do the nodes with the highest head serve.
//   - its recent transactions (the last 8), each with the node that
//     accepted it. For PinFor after sending, eth_getTransactionReceipt and
//     eth_getTransactionByHash of that hash, and the client's
//     eth_getTransactionCount(…, "pending"), go to that node: the others
//     may not have the transaction in their pool yet, nor its block.
//     "Until the others have it" is decided simply: once the node answered
//     the receipt (Mined records its block) and the network head has
//     reached that block, lookups go to any node at that height or above,
//     which all hold the block. A pending transaction reaches other pools
//     within a second of gossip, so the pin's bound of a minute covers it
//     with room. A pinned node that goes out of rotation (down, lagging)
//     or fails the call releases the pin for that call.
//
// The table of clients is an otter cache bounded by MaxClients, whose
// entries expire TTL after their last call; a client id is at most
// MaxIDLength bytes, so the table's memory is bounded (about 1 KB a
// client). Requests without a client id take none of these paths and cost
// nothing more.
package consistent
