// Package fuzzrun runs every fuzz target of the module for a bounded time
// as part of the test suite: TestFuzzTargets finds each `func FuzzX(f
// *testing.F)` in the module's test files, builds each package's test binary
// once with fuzzing instrumentation, and fuzzes each target in turn with one
// worker. It runs under CI=true or EVMGATE_FUZZ=1 and is skipped otherwise.
//
// A failing target fails the test and leaves its input in the package's
// testdata/fuzz/FuzzX directory, where the next plain `go test` replays it
// as a regression test.
package fuzzrun
