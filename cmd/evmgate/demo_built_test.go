//go:build demo && !nodemo

package main

// demoNotBuilt: a test binary built with -tags demo holds no launcher, so
// whether `evmgate demo` builds first is not known here.
func demoNotBuilt() (notBuilt, known bool) { return false, false }
