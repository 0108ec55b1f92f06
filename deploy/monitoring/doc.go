// Package monitoring checks the Grafana dashboard (deploy/grafana) and the
// Prometheus alert and recording rules (deploy/prometheus) that ship with
// evmgate: the dashboard against the Grafana schema, the rules with promtool
// and their unit tests, and every metric name either uses against the
// metrics a running gateway exports. It holds no code of the request path.
package monitoring
