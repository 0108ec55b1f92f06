// Package metrics defines evmgate's Prometheus metrics on a registry passed
// in. StakeSquid's metric names are kept (loadbalancer_*) so existing
// dashboards work; evmgate's own metrics are prefixed evmgate_. Node gauges
// are read from live state at scrape time, so a node removed at runtime
// leaves no stale series. No label carries client input: methods outside the
// known table are labelled "other".
package metrics
