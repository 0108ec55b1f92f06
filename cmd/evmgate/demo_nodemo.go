//go:build nodemo

package main

import (
	"errors"
	"io"
)

// A binary built with -tags nodemo leaves out the demo and with it
// go-ethereum: a smaller binary and about a third of the idle memory.
func demoCmd([]string, io.Writer, io.Writer) error {
	return errors.New("this evmgate was built with -tags nodemo, without the demo: build it without that tag, or run `go run ./cmd/evmgate demo` from the source tree")
}
