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
	"runtime/debug"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/evmgate/evmgate/internal/config"
	"github.com/evmgate/evmgate/internal/gateway"
	"github.com/evmgate/evmgate/internal/logbuf"
	"github.com/evmgate/evmgate/internal/registry"
	"github.com/evmgate/evmgate/internal/reload"
	"github.com/evmgate/evmgate/internal/tracing"
	"github.com/redis/go-redis/v9"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

// versionString is the version, and for a build from a checkout without
// one, the commit Go recorded in the binary ("dev (8dbbb99)", with
// "+changes" when the checkout had uncommitted changes).
func versionString() string {
	if version != "dev" {
		return version
	}
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return version
	}
	var rev string
	var modified bool
	for _, s := range info.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			modified = s.Value == "true"
		}
	}
	if rev == "" {
		return version
	}
	if len(rev) > 7 {
		rev = rev[:7]
	}
	if modified {
		rev += "+changes"
	}
	return version + " (" + rev + ")"
}

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
		return helpIsUsage(serve(args, stderr), stdout)
	case "validate":
		return helpIsUsage(validate(args, stdout, stderr), stdout)
	case "demo":
		return demoCmd(args, stdout, stderr)
	case "engine":
		return engineCmd(args, stderr)
	case "prio":
		return prioCmd(args, stderr)
	case "version":
		fmt.Fprintln(stdout, "evmgate", versionString())
		return nil
	case "help", "-h", "-help", "--help":
		fmt.Fprint(stdout, usage)
		return nil
	}
	return fmt.Errorf("unknown command %q\n%s", cmd, usage)
}

const usage = `usage:
  evmgate [serve] -config FILE    serve what FILE configures (default FILE: evmgate.yaml)
  evmgate validate -config FILE   check FILE and exit
  evmgate demo [-port N] [-metrics-port N] [-v]
                                  three local nodes and the gateway in front of them
  evmgate engine --nodes URL,... --jwt-secret PATH [flags]
                                  Engine API multiplexer alone (executionbackup's flags; engine -h lists them)
  evmgate prio [flags]            drop-in for flashbots prio-load-balancer (its flags and
                                  environment variables; prio -h lists them)
  evmgate version                 print the version
  evmgate help                    this text
`

// helpIsUsage prints the usage for a -h that configFlag met, which is no
// error.
func helpIsUsage(err error, stdout io.Writer) error {
	if errors.Is(err, flag.ErrHelp) {
		fmt.Fprint(stdout, usage)
		return nil
	}
	return err
}

func isHelp(arg string) bool { return arg == "-h" || arg == "-help" || arg == "--help" }

func configFlag(name string, args []string) (string, error) {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	path := fs.String("config", "evmgate.yaml", "configuration file")
	if err := fs.Parse(args); err != nil {
		return "", fmt.Errorf("%w\n%s", err, usage)
	}
	if fs.NArg() > 0 {
		return "", fmt.Errorf("unexpected argument %q: name the file with -config %s\n%s", fs.Arg(0), fs.Arg(0), usage)
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

// validate checks a file as a start does; what is valid but likely not
// meant (config.Warnings) goes to stderr, and the exit stays 0.
func validate(args []string, stdout, stderr io.Writer) error {
	path, err := configFlag("validate", args)
	if err != nil {
		return err
	}
	cfg, err := loadConfig(path)
	if err != nil {
		return err
	}
	if on, _ := tracing.On(cfg.Tracing.Enabled, os.LookupEnv); on {
		// What the environment says of the export stops a start: so it fails validate.
		if _, err := tracing.Check(gateway.TracingOptions(cfg), os.LookupEnv); err != nil {
			return fmt.Errorf("%s: tracing: %w", path, err)
		}
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
	for _, w := range cfg.Warnings() {
		fmt.Fprintln(stderr, "evmgate: warning:", w)
	}
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
	level := new(slog.LevelVar)
	level.Set(levelOf(cfg.LogLevel))
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	log, flush := newLogger(cfg, level, stderr)
	defer flush()
	warn(cfg, log)
	return runGateway(ctx, stop, cfg, log, &reloading{path: path, level: level})
}

// reloading is what a served file needs for hot reload.
type reloading struct {
	path  string
	level *slog.LevelVar
}

// runGateway serves until ctx ends, then shuts down gracefully (see
// shutdown). stop, called when ctx ends, lets a second signal end the
// process at once. With rl, SIGHUP and changes to the file reload it.
func runGateway(ctx context.Context, stop func(), cfg *config.Config, log *slog.Logger, rl *reloading) error {
	var hup chan os.Signal
	if rl != nil {
		// From the start: a SIGHUP while starting reloads once started
		// instead of ending the process. Kept until exit: a SIGHUP while
		// shutting down is ignored.
		hup = make(chan os.Signal, 1)
		signal.Notify(hup, syscall.SIGHUP)
	}
	g, err := gateway.New(cfg, log)
	if err != nil {
		return err
	}
	if err := g.Start(ctx); err != nil {
		return err
	}
	var r *reload.Reloader
	if rl != nil {
		if r, err = startReloader(g, rl, hup, log); err != nil {
			_ = g.Close(context.Background())
			return err
		}
	}
	<-ctx.Done()
	stop()
	if r != nil {
		r.Close()
	}
	return shutdown(g, log)
}

// startReloader reloads the file on SIGHUP and when it changes on disk.
func startReloader(g *gateway.Gateway, rl *reloading, hup <-chan os.Signal, log *slog.Logger) (*reload.Reloader, error) {
	return reload.Start(reload.Options{
		Path: rl.path, Signals: hup, Log: log, Registerer: g.Registry(),
		Reload: func(ctx context.Context) ([]string, []string, error) {
			cfg, err := config.LoadReload(rl.path)
			if err != nil {
				return nil, nil, err
			}
			before := g.Config() // reloads run one at a time: nothing else changes it meanwhile
			restart, err := g.Reload(ctx, cfg)
			if err != nil {
				return nil, restart, err
			}
			rl.level.Set(levelOf(g.Config().LogLevel))
			warnNew(before, cfg, log)
			return config.Changed(before, g.Config()), restart, nil
		},
	})
}

// warn logs what cfg does that is valid but likely not meant, as validate
// prints it.
func warn(cfg *config.Config, log *slog.Logger) {
	for _, w := range cfg.Warnings() {
		log.Warn("configuration: " + w)
	}
}

// warnNew logs the warnings of a reloaded configuration that the running
// one did not have: the others were logged at start or at an earlier
// reload.
func warnNew(running, cfg *config.Config, log *slog.Logger) {
	had := running.Warnings()
	for _, w := range cfg.Warnings() {
		if !slices.Contains(had, w) {
			log.Warn("configuration: " + w)
		}
	}
}

// shutdown drains the gateway: /ready answers 503 at once, the listeners
// keep accepting for shutdown_delay (so a load balancer stops sending
// first), then stop, and the calls in flight get shutdown_grace to finish.
// Those still in flight then are answered -32056, so that their clients
// retry on another replica; an answer already partly written is cut.
func shutdown(g *gateway.Gateway, log *slog.Logger) error {
	cfg := g.Config()
	delay, grace := cfg.ShutdownDelay.D(), cfg.ShutdownGrace.D()
	g.Drain()
	log.Info("shutting down", "shutdown_delay", delay, "shutdown_grace", grace)
	if delay > 0 {
		time.Sleep(delay) // serving as usual meanwhile; a second signal ends the process
	}
	start := time.Now()
	sctx, cancel := context.WithTimeout(context.Background(), grace)
	defer cancel()
	closed := make(chan error, 1)
	go func() { closed <- g.Close(sctx) }()
	var err error
	select {
	case err = <-closed:
	case <-sctx.Done():
		// The calls still in flight are being answered (Close); after
		// cutWait the exit cuts whatever still runs.
		finished := true
		select {
		case err = <-closed:
		case <-time.After(cutWait):
			finished = false
		}
		answered, cut := g.StoppedCalls()
		log.Warn("calls still in flight after shutdown_grace are answered -32056 or cut",
			"answered", answered, "cut", cut, "close_finished", finished)
	}
	log.Info("shut down", "drained_in", time.Since(start), "within_grace", sctx.Err() == nil)
	if err != nil && !errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	return nil
}

// cutWait is how long the end of the close (the answers to the calls
// stopped at the grace's end, close frames to WebSocket clients, node
// connections) may take after shutdown_grace.
const cutWait = time.Second

func levelOf(name string) slog.Level {
	switch strings.ToUpper(name) {
	case "ERROR":
		return slog.LevelError
	case "WARN":
		return slog.LevelWarn
	case "DEBUG", "TRACE":
		return slog.LevelDebug
	}
	return slog.LevelInfo
}

// newLogger returns the process's logger on w, whose per-request lines are
// written in batches (logbuf), and the function that writes out what is
// still buffered, for the process's end.
//
// go-redis's own lines (each failed dial, pub/sub reconnections) go to it
// too, at DEBUG: otherwise they reach stderr in go-redis's own format, which
// breaks log_format json. Not at WARN: during an outage they repeat every
// second for every Redis client, while the registry, the runtime keys and
// the shared limits each say once at WARN that Redis is unreachable and
// once at INFO that it answers again.
func newLogger(cfg *config.Config, level slog.Leveler, w io.Writer) (*slog.Logger, func()) {
	buf := logbuf.New(w)
	opts := &slog.HandlerOptions{Level: level}
	var h slog.Handler = slog.NewTextHandler(buf, opts)
	if cfg.LogFormat == "json" {
		h = slog.NewJSONHandler(buf, opts)
	}
	log := slog.New(logbuf.NewHandler(h, buf))
	redis.SetLogger(registry.RedisLog{Log: log})
	return log, func() { _ = buf.Close() }
}
