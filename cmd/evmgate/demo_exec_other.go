//go:build !demo && !nodemo && !unix

package main

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
)

// runDemo runs the demo binary as a child with this process's stdio and
// exits with its exit code. Ctrl-C reaches the child from the console; this
// process only waits for it.
func runDemo(bin string, args []string) error {
	cmd := exec.Command(bin, args...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	signal.Ignore(os.Interrupt)
	err := cmd.Run()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		os.Exit(ee.ExitCode())
	}
	if err != nil {
		return fmt.Errorf("running the demo %s: %w", bin, err)
	}
	os.Exit(0)
	return nil
}

// lockDemoBuild does nothing here: without flock, two demos started at
// once while the binary is stale may both write it.
func lockDemoBuild(string) error { return nil }
