package main

import (
	"flag"
	"fmt"
	"io"

	"github.com/evmgate/evmgate/internal/freeport"
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
	out := make([]int, 0, n)
	for range n {
		p, err := freeport.Pick()
		if err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	return out, nil
}
