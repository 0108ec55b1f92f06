// Package logsplit bounds and splits eth_getLogs calls over block ranges.
//
// A network may set max_logs_block_range: a call over more blocks is
// refused with an error naming the range, the limit and the fix. Below it,
// with splitting on, a range longer than logs_chunk_blocks is cut into
// chunks aligned to multiples of the chunk size (so the same chunks recur
// and finalized ones are found in the cache), fetched at most
// logs_split_concurrency at a time. A chunk a node refuses as too large
// ("query returned more than 10000 results", "Log response size exceeded",
// "block range too large", an answer over max_answer_bytes) is cut in two
// and each half asked again, down to a single block. The answers are
// stitched in block order from the nodes' own bytes: the raw log arrays are
// concatenated, never decoded, inside the first chunk's envelope with the
// client's id. One chunk that fails fails the whole call: no partial answer.
//
// Block tags are resolved before anything is cut: a missing end and
// "latest" are the network head the balancer sees, "earliest" is 0,
// "finalized" the network's finalized block. A range with "safe" or
// "pending", or any tag that cannot be resolved, goes to a node whole, as
// does a filter by blockHash. No chunk starts past the head: when toBlock
// is past it, the last chunk carries the client's toBlock as written, so
// the node answers it the way it answers the whole call.
package logsplit
