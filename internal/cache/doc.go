// Package cache is the gateway's response cache and in-flight dedup.
//
// proxy consults it after a call is parsed and before it is scheduled: a
// call whose answer cannot change any more is answered from memory with the
// exact bytes a node gave, the client's own id spliced in; identical reads in
// flight at the same moment make one upstream call. The cache is filled from
// the node's answer bytes as they stream to the client.
//
// What may be kept is decided per method (policy.go), and only answers that
// can never change are kept: eth_chainId and net_version; calls at an explicit
// block number at or below the network's finalized block; eth_getLogs over a
// range of explicit numbers at or below it; lookups by hash once the block
// that holds the answer is finalized. Never an error, never a null (a
// transaction not yet mined is not missing), never a tag such as latest.
// "Finalized" holds for the network (the lower median of its nodes') and
// for the node that answered (its own finalized block): a node on a fork of
// its own is never kept past the block it names as finalized.
// Keys carry the network's chain id, and only an answer of a node on that
// chain is kept: a network that moves to another chain, or a network of the
// same name on another chain in a replica sharing Redis, never finds
// another chain's answers.
//
// Entries live in one in-memory store bounded in bytes (otter, whose
// admission and eviction policy keeps the entries that are asked for).
// With a Redis URL, Redis is a second level shared by replicas behind the
// same Lookup and Put (redis.go): read on a memory miss, written in the
// background, every entry with a TTL and the bytes written in one TTL
// bounded across replicas by a counter in Redis. A Redis failure is a miss.
package cache
