// Command evmgate is a health-aware JSON-RPC gateway in front of many
// Ethereum/EVM nodes.
//
//	evmgate -config evmgate.yaml           serve
//	evmgate validate -config evmgate.yaml  check a configuration and exit
//	evmgate demo                           run three local nodes and the gateway in front of them
//	evmgate prio [flags]                   a drop-in for flashbots prio-load-balancer
//	evmgate version                        print the version
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/evmgate/evmgate/internal/config"
	"github.com/evmgate/evmgate/internal/gateway"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

func main() {
	if err := run(os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "evmgate:", err)
		os.Exit(1)
	}
}

func run(args []string, stdout, stderr io.Writer) error {
	cmd := "serve"
	if len(args) > 0 && (!strings.HasPrefix(args[0], "-") || isHelp(args[0])) {
		cmd, args = args[0], args[1:]
	}
	switch cmd {
	case "serve":
		return serve(args, stderr)
	case "validate":
		return validate(args, stdout)
	case "demo":
		return demoCmd(args, stdout, stderr)
	case "engine":
		return engineCmd(args, stderr)
	case "prio":
		return prioCmd(args, stderr)
	case "version":
		fmt.Fprintln(stdout, "evmgate", version)
		return nil
	case "help", "-h", "-help", "--help":
		fmt.Fprint(stdout, usage)
		return nil
	}
	return fmt.Errorf("unknown command %q\n%s", cmd, usage)
}

const usage = `usage:
  evmgate -config FILE            serve what FILE configures (default FILE: evmgate.yaml)
  evmgate validate -config FILE   check FILE and exit
  evmgate demo [-port N] [-metrics-port N]
                                  three local nodes and the gateway in front of them
  evmgate engine --nodes URL,... --jwt-secret PATH [flags]
                                  Engine API multiplexer alone (executionbackup's flags; engine -h lists them)
  evmgate prio [flags]            drop-in for flashbots prio-load-balancer (its flags and
                                  environment variables; prio -h lists them)
  evmgate version                 print the version
  evmgate help                    this text
`

func isHelp(arg string) bool { return arg == "-h" || arg == "-help" || arg == "--help" }

func configFlag(name string, args []string) (string, error) {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	path := fs.String("config", "evmgate.yaml", "configuration file")
	if err := fs.Parse(args); err != nil {
		return "", fmt.Errorf("%w\n%s", err, usage)
	}
	if fs.NArg() > 0 {
		return "", fmt.Errorf("unexpected argument %q\n%s", fs.Arg(0), usage)
	}
	return *path, nil
}

// loadConfig reads and validates a configuration file; a missing file gets
// the ways forward in its message.
func loadConfig(path string) (*config.Config, error) {
	cfg, err := config.Load(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%w (name a file with -config FILE; examples/evmgate.yaml is a documented one; evmgate demo runs without one)", err)
	}
	return cfg, err
}

func validate(args []string, stdout io.Writer) error {
	path, err := configFlag("validate", args)
	if err != nil {
		return err
	}
	cfg, err := loadConfig(path)
	if err != nil {
		return err
	}
	nodes := 0
	for _, n := range cfg.Networks {
		nodes += len(n.LocalNodes) + len(n.MonitoringNodes) + len(n.FallbackNodes)
	}
	engine := ""
	if cfg.Engine.Enabled {
		engine = fmt.Sprintf(", Engine API multiplexer with %d node(s) on %s", len(cfg.Engine.Nodes), cfg.Engine.ListenAddr)
	}
	fmt.Fprintf(stdout, "%s is valid: %d network(s), %d node(s)%s\n", path, len(cfg.Networks), nodes, engine)
	return nil
}

func serve(args []string, stderr io.Writer) error {
	path, err := configFlag("serve", args)
	if err != nil {
		return err
	}
	cfg, err := loadConfig(path)
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return runGateway(ctx, cfg, newLogger(cfg, stderr))
}

// runGateway serves until ctx ends, then shuts down gracefully.
func runGateway(ctx context.Context, cfg *config.Config, log *slog.Logger) error {
	g, err := gateway.New(cfg, log)
	if err != nil {
		return err
	}
	if err := g.Start(ctx); err != nil {
		return err
	}
	<-ctx.Done()
	log.Info("shutting down")
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := g.Close(sctx); err != nil && !errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	return nil
}

func newLogger(cfg *config.Config, w io.Writer) *slog.Logger {
	var level slog.Level
	switch strings.ToUpper(cfg.LogLevel) {
	case "ERROR":
		level = slog.LevelError
	case "WARN":
		level = slog.LevelWarn
	case "DEBUG", "TRACE":
		level = slog.LevelDebug
	default:
		level = slog.LevelInfo
	}
	opts := &slog.HandlerOptions{Level: level}
	if cfg.LogFormat == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}
