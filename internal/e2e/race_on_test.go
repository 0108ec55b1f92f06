//go:build race

package e2e

// raceEnabled is true when the race detector is on; geth runs several times
// slower then, so the drills use fewer clients and less time.
const raceEnabled = true
