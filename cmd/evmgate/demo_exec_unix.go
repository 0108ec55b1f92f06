//go:build !demo && !nodemo && unix

package main

import (
	"fmt"
	"os"
	"syscall"
)

// runDemo replaces this process with the demo binary: the same PID, stdio
// and signals, so Ctrl-C and SIGTERM stop the demo as they stop evmgate.
func runDemo(bin string, args []string) error {
	argv := append([]string{os.Args[0]}, args...)
	if err := syscall.Exec(bin, argv, os.Environ()); err != nil {
		return fmt.Errorf("running the demo %s: %w", bin, err)
	}
	return nil
}
