//go:build nodemo && !demo

package main

import (
	"errors"
	"io"
)

// A binary built with -tags nodemo has no demo and never builds one.
func demoCmd([]string, io.Writer, io.Writer) error {
	return errors.New("this evmgate was built with -tags nodemo, without the demo: run `go run ./cmd/evmgate demo` in a checkout of evmgate, or build the binary with `go build -tags demo ./cmd/evmgate`")
}
