// Package gateway builds evmgate's runtime from a validated configuration:
// one upstream.Node per configured node, one balancer.Pool, health.Monitor
// and scheduler per network, the proxy handler, the metrics registry, and the
// listeners (JSON-RPC, metrics and status). New builds, Start listens and
// probes, Close stops everything it started and waits for it. The binary, the
// demo and the integration tests all run the gateway through this package.
package gateway
