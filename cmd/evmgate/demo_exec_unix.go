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

// lockDemoBuild keeps two demos started at once from writing the binary at
// the same time. The lock is released when this process execs the demo or
// exits: the file is opened close-on-exec.
func lockDemoBuild(bin string) error {
	f, err := os.OpenFile(bin+".lock", os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return fmt.Errorf("locking the demo binary: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		f.Close()
		return fmt.Errorf("locking the demo binary %s: %w", f.Name(), err)
	}
	demoLock = f // held until exec or exit
	return nil
}

// demoLock is the open lock file; it must not be collected and closed.
var demoLock *os.File
