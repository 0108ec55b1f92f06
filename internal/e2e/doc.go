// Package e2e holds the integration suite that runs evmgate in front of real
// go-ethereum nodes (internal/devnet) and talks to it with go-ethereum's own
// rpc and ethclient packages, as a real client would.
//
// The tests prove that answers through the gateway are byte for byte the
// nodes' answers, that a lagging node is kept out of rotation until it
// catches up, and that a node dying or hanging under a closed-loop load costs
// the clients no failed call. BenchmarkRealNodes measures the gateway against
// direct calls on the same nodes; docs/benchmarks.md records its figures.
//
// The package has no non-test code: everything lives in _test.go files.
package e2e
