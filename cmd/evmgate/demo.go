//go:build demo

package main

import (
	"context"
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
	f, help, err := parseDemoFlags(args, stdout)
	if err != nil || help {
		return err
	}
	level := slog.LevelInfo
	if f.verbose {
		level = slog.LevelDebug
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	d, err := demo.Start(ctx, demo.Options{Port: f.port, MetricsPort: f.metricsPort}, log)
	if err != nil {
		return err
	}
	d.PrintIntro(stdout)
	<-ctx.Done()
	log.Info("stopping the demo")
	return d.Close()
}
