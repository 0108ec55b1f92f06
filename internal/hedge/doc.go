// Package hedge decides when a slow read gets a second copy on another
// node, and keeps the answer times that decision reads.
//
// On a network with hedging on, proxy starts a read's try and waits up to
// Delay for its answer to be classified. Delay is the chosen quantile (p95
// by default) of the recent answer times of that node for that method,
// between min_delay and max_delay; until a node has answered a method
// enough times, it is max_delay. When the try is slower, one copy goes to
// the next best node that has a free worker slot right now (the copy never
// queues); the first good answer is served, the other try is cancelled and
// its slot released. An answer that is null or empty ([] or "0x"), or a
// node error meaning "not on this node now", does not win while the other
// try may still bring a better one.
//
// Only reads are hedged: Hedgeable refuses writes (eth_sendRawTransaction),
// filters (their ids live on one node), subscriptions and methods the
// gateway does not know. Batches are not hedged.
//
// Hedges are counted apart (evmgate_hedges_total by outcome), and every try
// is judged on its own: a slow try that lost is not a success of its node,
// its time so far counts in the node's answer time, and a failed copy
// counts against the copy's node.
package hedge
