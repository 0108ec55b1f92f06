//go:build demo

package main

import (
	"context"
	"flag"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/evmgate/evmgate/internal/demo"
)

// demoCmd runs the demo in this process: a binary built with -tags demo holds
// go-ethereum and the three in-process nodes. A binary built without that tag
// builds this one and runs it (demo_launch.go).
func demoCmd(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("demo", flag.ContinueOnError)
	port := fs.Int("port", 8545, "JSON-RPC port on 127.0.0.1")
	metricsPort := fs.Int("metrics-port", 9101, "metrics and status port on 127.0.0.1")
	verbose := fs.Bool("v", false, "log every request")
	if err := fs.Parse(args); err != nil {
		return err
	}
	level := slog.LevelInfo
	if *verbose {
		level = slog.LevelDebug
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	d, err := demo.Start(ctx, demo.Options{Port: *port, MetricsPort: *metricsPort}, log)
	if err != nil {
		return err
	}
	d.PrintIntro(stdout)
	<-ctx.Done()
	log.Info("stopping the demo")
	return d.Close()
}
