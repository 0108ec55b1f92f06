//go:build race

package proxy_test

// raceEnabled is true when the race detector is on: sync.Pool then drops
// items at random, so allocation counts are not comparable.
const raceEnabled = true
