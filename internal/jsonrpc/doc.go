// Package jsonrpc reads and writes JSON-RPC 2.0 messages without decoding
// what the gateway does not need.
//
// A request body is split into calls by a small scanner: each Call keeps its
// raw bytes, its raw id and its method; params are never decoded unless a
// method's routing needs its block parameter. A node's response is scanned
// (ResponseScan) only as far as it takes to learn whether it holds a result
// or an error, as its bytes arrive, members in any order and an id of any
// size, so results pass through byte for byte and large ones can be
// streamed. This is the first step of the request path, before
// scheduling and node selection.
package jsonrpc
