// Package upstream models one execution node: its fixed identity (URL,
// tier, headers, limits) and its live state (head, latency, load, health,
// calls in flight) held in atomics so the selector reads it without locks.
// It also owns the node's HTTP client, which sends raw JSON-RPC bytes and
// classifies failures into typed errors. Health probes (package health) and
// request outcomes (package proxy) write the live state; package balancer
// reads it.
package upstream
