package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/evmgate/evmgate/internal/config"
	"github.com/evmgate/evmgate/internal/priolb"
)

// prioCmd runs the gateway configured by flashbots prio-load-balancer's
// flags and environment variables, as a drop-in replacement.
func prioCmd(args []string, stderr io.Writer) error {
	for _, a := range args {
		if isHelp(a) {
			fmt.Fprint(stderr, priolb.Usage())
			return nil
		}
	}
	s, err := priolb.Parse(args, os.LookupEnv)
	if err != nil {
		return err
	}
	format := "text"
	if s.LogProd {
		format = "json"
	}
	log, flush := newLogger(&config.Config{LogFormat: format}, levelOf(s.LogLevel), stderr)
	defer flush()
	if s.LogService != "" {
		log = log.With("service", s.LogService)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	nodes, err := prioNodes(ctx, &s, log)
	if err != nil {
		return err
	}
	if s.MockNode {
		mock, err := priolb.StartMock(s.MockNodeAddr)
		if err != nil {
			return err
		}
		defer mock.Close()
		log.Info("mock node serving", "url", mock.URL())
		nodes = append(nodes, mock.URL())
	}
	nodes = append(nodes, s.Nodes...)
	cfg, err := s.Config(nodes)
	if err != nil {
		return err
	}
	if len(s.Ignored) > 0 {
		log.Info("prio-load-balancer settings evmgate does not need, ignored", "vars", s.Ignored)
	}
	n := cfg.Networks[0]
	log.Info("prio-load-balancer settings", "listen", s.ListenAddr, "nodes", len(n.LocalNodes),
		"node_workers", cfg.MaxConcurrency, "tries", *n.RPCRetries+1, "try_timeout", n.RPCTimeout.D().String(),
		"request_timeout", cfg.RequestTimeout.D().String(), "max_body_bytes", cfg.MaxBodyBytes,
		"max_queued_fast_track", cfg.Scheduler.MaxQueuedFastTrack, "max_queued_high", cfg.Scheduler.MaxQueuedHigh,
		"max_queued_low", cfg.Scheduler.MaxQueuedLow, "fast_track_per_high", cfg.Scheduler.FastTrackPerHigh,
		"drain_fast_track_first", cfg.Scheduler.DrainFastTrackFirst, "low_share", cfg.Scheduler.LowShare,
		"low_max_wait", cfg.Scheduler.LowMaxWait.D().String(), "method_timeouts", n.MethodTimeoutStrings(),
		"store", store(cfg), "metrics", cfg.MetricsPort > 0)
	return runGateway(ctx, stop, cfg, log, nil)
}

// prioNodes reads the node list prio-load-balancer kept in Redis, when
// -redis names a server.
func prioNodes(ctx context.Context, s *priolb.Settings, log *slog.Logger) ([]string, error) {
	url, ok := priolb.RedisURL(s.Redis)
	if !ok {
		return nil, nil
	}
	nodes, err := priolb.ReadNodes(ctx, url, s.RedisPrefix)
	if err != nil {
		return nil, err
	}
	log.Info("imported prio-load-balancer's node list from redis", "key", priolb.NodesKey(s.RedisPrefix), "nodes", len(nodes))
	return nodes, nil
}

func store(cfg *config.Config) string {
	if cfg.Admin.RedisURL == "" {
		return "memory"
	}
	return "redis " + cfg.Admin.RedisPrefix
}
