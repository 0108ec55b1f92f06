// Package devnet runs real go-ethereum execution nodes inside the current
// process, for the gateway's demo and its tests.
//
// A Net is a small private chain (Osaka rules, chain id 1337 by default) of
// N geth nodes that do not talk to each other over p2p. The Net plays the
// consensus client: it builds each block on one node through the Engine API
// (engine_forkchoiceUpdatedV3 with attributes, engine_getPayloadV5), imports
// it on every other running node (engine_newPayloadV4, then
// engine_forkchoiceUpdatedV3) and keeps every payload, so a node that was
// stopped or frozen can be caught up later by replaying them in order.
// Reorg replaces the newest blocks (up to MaxReorgDepth, never the
// finalized one) with sibling blocks built on the same parent, and moves
// every node to the new branch with forkchoiceUpdated.
// Pending transactions are copied from every node's pool to the builder
// before each block, standing in for p2p gossip.
//
// Each node listens on 127.0.0.1 only: plain HTTP and WebSocket JSON-RPC
// (eth, net, web3, txpool) on one port and the JWT-authenticated Engine API
// on another. Every node has its own JWT secret.
//
// Driver is a consensus-client side Engine API client that works against any
// Engine API URL, a gateway's included. It keeps payloads as raw JSON so
// tests can forward, tamper with or compare them byte for byte.
//
// The gateway itself never imports this package: go-ethereum stays confined
// to devnet, the tests and the demo.
package devnet
