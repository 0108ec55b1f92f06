package engine

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"

	"github.com/evmgate/evmgate/internal/nodeurl"
)

// ParseFlags reads executionbackup's command line, so evmgate can replace it
// without changing a start script:
//
//	--nodes URL#jwt-secret=PATH#timeout=MS#do-not-use,...   (required)
//	--jwt-secret PATH   --fcu-majority 0.6   --port 7000   --listen-addr 127.0.0.1
//	--timeout MS        --log-level info
//
// evmgate adds --min-agree N and --admin-token TOKEN. --node-timings,
// --holesky and --sepolia are accepted and ignored: evmgate passes every
// method version through unchanged, so it needs no fork table. Unlike
// executionbackup, the listener defaults to 127.0.0.1. The result is
// enabled and defaulted; call Validate on it.
func ParseFlags(args []string) (Config, error) {
	fs, v := newFlagSet()
	fs.SetOutput(io.Discard)
	if err := fs.Parse(args); err != nil {
		return Config{}, fmt.Errorf("parsing engine flags: %w", err)
	}
	if fs.NArg() > 0 {
		return Config{}, fmt.Errorf("parsing engine flags: unexpected argument %q", fs.Arg(0))
	}
	cfg := Config{
		Enabled:       true,
		ListenAddr:    net.JoinHostPort(*v.listenAddr, strconv.Itoa(*v.port)),
		JWTSecretPath: *v.jwtSecret,
		FCUMajority:   *v.majority,
		MinAgree:      *v.minAgree,
		AdminToken:    *v.adminToken,
		LogLevel:      *v.logLevel,
	}
	if *v.timeoutMS > 0 {
		cfg.NodeTimeout = strconv.Itoa(*v.timeoutMS) + "ms"
	}
	if strings.TrimSpace(*v.nodes) == "" {
		return Config{}, errors.New("parsing engine flags: --nodes is required (URL#jwt-secret=PATH,...)")
	}
	for spec := range strings.SplitSeq(*v.nodes, ",") {
		if spec = strings.TrimSpace(spec); spec == "" {
			continue
		}
		nc, err := ParseNodeSpec(spec)
		if err != nil {
			return Config{}, fmt.Errorf("parsing engine flags: --nodes: %w", err)
		}
		cfg.Nodes = append(cfg.Nodes, nc)
	}
	cfg.Default()
	return cfg, nil
}

// FlagUsage returns the help text of ParseFlags' flags.
func FlagUsage() string {
	fs, _ := newFlagSet()
	var b bytes.Buffer
	fs.SetOutput(&b)
	fs.PrintDefaults()
	return b.String()
}

type flagValues struct {
	nodes, jwtSecret, listenAddr, logLevel, adminToken *string
	majority                                           *float64
	port, timeoutMS, minAgree                          *int
}

func newFlagSet() (*flag.FlagSet, flagValues) {
	fs := flag.NewFlagSet("engine", flag.ContinueOnError)
	v := flagValues{
		nodes:      fs.String("nodes", "", "execution clients: URL#jwt-secret=PATH#timeout=MS#do-not-use, comma separated"),
		jwtSecret:  fs.String("jwt-secret", "", "consensus client's jwt secret file, also used for nodes without their own"),
		majority:   fs.Float64("fcu-majority", DefaultFCUMajority, "share of answering nodes that must agree, in (0, 1]"),
		minAgree:   fs.Int("min-agree", DefaultMinAgree, "minimum number of agreeing nodes"),
		port:       fs.Int("port", 7000, "port for the consensus client"),
		listenAddr: fs.String("listen-addr", "127.0.0.1", "address for the consensus client"),
		timeoutMS:  fs.Int("timeout", 0, "per-node timeout in milliseconds (default 4000)"),
		logLevel:   fs.String("log-level", "info", "debug, info, warn or error"),
		adminToken: fs.String("admin-token", "", "bearer token for /recheck and /add_nodes (off when empty)"),
	}
	fs.Bool("node-timings", false, "accepted for compatibility; node latencies are in the metrics")
	fs.Bool("holesky", false, "accepted for compatibility; not needed")
	fs.Bool("sepolia", false, "accepted for compatibility; not needed")
	return fs, v
}

// ParseNodeSpec reads one node in executionbackup's syntax:
// URL, then optional "#jwt-secret=PATH", "#timeout=MS" and "#do-not-use".
func ParseNodeSpec(spec string) (NodeConfig, error) {
	parts := strings.Split(strings.TrimSpace(spec), "#")
	nc := NodeConfig{URL: parts[0]}
	if nc.URL == "" {
		return nc, fmt.Errorf("node %q has no URL", spec)
	}
	for _, opt := range parts[1:] {
		key, val, hasVal := strings.Cut(opt, "=")
		switch {
		case key == "jwt-secret" && hasVal && val != "":
			nc.JWTSecretPath = val
		case key == "timeout" && hasVal:
			ms, err := strconv.Atoi(val)
			if err != nil || ms <= 0 {
				return nc, fmt.Errorf("node %s: timeout %q is not a positive number of milliseconds", nodeurl.Redact(nc.URL), val)
			}
			nc.Timeout = strconv.Itoa(ms) + "ms"
		case key == "do-not-use" && !hasVal:
			nc.DoNotUse = true
		default:
			return nc, fmt.Errorf("node %s: unknown option %q (want jwt-secret=PATH, timeout=MS or do-not-use)", nodeurl.Redact(nc.URL), opt)
		}
	}
	return nc, nil
}

// flagKeys name a Config's keys by the flags of ParseFlags that set them:
// --jwt-secret, and --nodes node 2 #timeout for a node's option.
var flagKeys = keyNames{
	key: func(key string) string {
		if f, ok := keyFlags[key]; ok {
			return f
		}
		return "engine." + key // no flag sets it: its default is what is wrong
	},
	node: func(i int, opt string) string { return "--nodes node " + strconv.Itoa(i+1) + nodeOptions[opt] },
	ref:  func(i int) string { return "node " + strconv.Itoa(i+1) },
}

// keyFlags are the flags that set the section's keys.
var keyFlags = map[string]string{
	"jwt_secret": "--jwt-secret", "fcu_majority": "--fcu-majority", "min_agree": "--min-agree",
	"node_timeout": "--timeout", "listen_addr": "--listen-addr/--port", "admin_token": "--admin-token",
	"log_level": "--log-level", "nodes": "--nodes",
}

// nodeOptions are the options of a --nodes entry that set a node's keys.
var nodeOptions = map[string]string{"jwt_secret": " #jwt-secret", "timeout": " #timeout", "do_not_use": " #do-not-use"}
