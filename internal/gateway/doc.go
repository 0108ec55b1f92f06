// Package gateway builds evmgate's runtime from a validated configuration:
// one upstream.Node per configured node, one balancer.Pool, health.Monitor
// and scheduler per network, the proxy handler, the metrics registry, and the
// listeners (JSON-RPC, metrics and status). New builds, Start listens and
// probes, Close stops everything it started and waits for it. The binary, the
// demo and the integration tests all run the gateway through this package.
//
// Reload applies a new configuration to the running gateway: it builds the
// new runtime beside the old one and swaps it, as the registry swaps node
// sets, keeping the pools, queues and subscriptions of the networks that
// stay (reload.go). Drain and Close are the graceful shutdown: /ready
// answers 503, then the listeners stop and the calls in flight finish
// (shutdown.go).
package gateway
