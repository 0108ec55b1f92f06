// Package fakenode is a fault-injecting JSON-RPC node for tests and the
// load benchmark: it answers the few methods the gateway probes and routes
// with fixed, precomputed bytes, and can be told to refuse connections, hang,
// answer HTTP 500, lag, lie about its head or sit on another chain — faults a
// real node cannot produce on demand. It listens on 127.0.0.1 only.
package fakenode
