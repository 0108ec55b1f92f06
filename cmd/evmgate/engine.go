package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/evmgate/evmgate/internal/config"
	"github.com/evmgate/evmgate/internal/engine"
)

// engineCmd runs only the Engine API multiplexer, configured by
// executionbackup's flags, as a drop-in replacement.
func engineCmd(args []string, stderr io.Writer) error {
	for _, a := range args {
		if a == "-h" || a == "--help" || a == "-help" {
			fmt.Fprint(stderr, "usage: evmgate engine --nodes URL#jwt-secret=PATH#timeout=MS#do-not-use,... --jwt-secret PATH [flags]\n"+engine.FlagUsage())
			return nil
		}
	}
	ecfg, err := engine.ParseFlags(args)
	if err != nil {
		return err
	}
	if err := ecfg.ValidateFlags(); err != nil {
		return err
	}
	cfg := &config.Config{Engine: ecfg, LogLevel: strings.ToUpper(ecfg.LogLevel), MetricsPort: -1}
	cfg.Default()
	cfg.MetricsPort = -1
	if err := cfg.Validate(); err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	log, flush := newLogger(cfg, levelOf(cfg.LogLevel), stderr)
	defer flush()
	return runGateway(ctx, stop, cfg, log, nil)
}
