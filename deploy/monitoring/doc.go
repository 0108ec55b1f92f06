// Package monitoring checks the Grafana dashboard (deploy/grafana) and the
// Prometheus alert and recording rules (deploy/prometheus) that ship with
// evmgate: the dashboard against Grafana's dashboard schema, the rules with
// promtool and their unit tests, and the metric names and labels both use
// against what a running gateway exports. It holds no code of the request
// path.
package monitoring
