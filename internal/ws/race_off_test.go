//go:build !race

package ws_test

// raceEnabled is true when the race detector is on.
const raceEnabled = false
