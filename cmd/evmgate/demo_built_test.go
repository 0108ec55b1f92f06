//go:build demo && !nodemo

package main

// demoNotice: a test binary built with -tags demo holds no launcher, so
// what `evmgate demo` prints before it builds is not known here.
func demoNotice() (notice string, known bool) { return "", false }
