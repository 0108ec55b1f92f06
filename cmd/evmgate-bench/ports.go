package main

import (
	"flag"
	"fmt"
	"io"
	"net"
)

// ports prints n TCP ports that are free on 127.0.0.1 now, for a script to
// hand to servers whose configuration wants a fixed port.
func ports(args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("ports", flag.ContinueOnError)
	n := fs.Int("n", 1, "how many ports")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *n < 1 || *n > 64 {
		return fmt.Errorf("-n %d: use 1 to 64", *n)
	}
	ps, err := freePorts(*n)
	if err != nil {
		return err
	}
	for _, p := range ps {
		fmt.Fprintln(stdout, p)
	}
	return nil
}

// freePorts returns n distinct TCP ports that are free on 127.0.0.1 now.
func freePorts(n int) ([]int, error) {
	var lns []net.Listener
	defer func() {
		for _, ln := range lns {
			ln.Close()
		}
	}()
	out := make([]int, 0, n)
	for range n {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("finding a free port: %w", err)
		}
		lns = append(lns, ln)
		out = append(out, ln.Addr().(*net.TCPAddr).Port)
	}
	return out, nil
}
