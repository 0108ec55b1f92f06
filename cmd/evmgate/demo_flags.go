package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
)

// demoFlags are `evmgate demo`'s flags.
type demoFlags struct {
	port, metricsPort int
	verbose           bool
}

// demoUsage is the first line of `evmgate demo -h`.
const demoUsage = "usage: evmgate demo [-port N] [-metrics-port N] [-v]"

// parseDemoFlags reads `evmgate demo`'s arguments. For -h it prints the
// usage to stdout and returns help; a bad argument is an error that
// names the usage. The launcher reads them before it builds the demo, so a
// mistake costs no build.
func parseDemoFlags(args []string, stdout io.Writer) (f demoFlags, help bool, err error) {
	fs := flag.NewFlagSet("demo", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.IntVar(&f.port, "port", 8545, "JSON-RPC port on 127.0.0.1")
	fs.IntVar(&f.metricsPort, "metrics-port", 9101, "metrics and status port on 127.0.0.1")
	fs.BoolVar(&f.verbose, "v", false, "log every request")
	switch err := fs.Parse(args); {
	case errors.Is(err, flag.ErrHelp):
		fmt.Fprintln(stdout, demoUsage)
		fs.SetOutput(stdout)
		fs.PrintDefaults()
		return f, true, nil
	case err != nil:
		return f, false, fmt.Errorf("%w (%s)", err, demoUsage)
	case fs.NArg() > 0:
		return f, false, fmt.Errorf("unexpected argument %q (%s)", fs.Arg(0), demoUsage)
	}
	return f, false, nil
}
