//go:build race

package ws_test

// raceEnabled is true when the race detector is on: everything runs several
// times slower then, so the load tests use fewer clients.
const raceEnabled = true
