package priolb

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
)

// Settings are prio-load-balancer's settings, plus the few evmgate needs
// to run in its place (AdminToken, MetricsAddr, LogLevel, MockNodeAddr,
// LowShare, LowMaxWait, MethodTimeouts).
type Settings struct {
	ListenAddr   string // -http, LISTEN_ADDR
	Redis        string // -redis, REDIS_URI: "dev" or "" (no Redis), host:port or redis:// URL
	RedisPrefix  string // REDIS_PREFIX
	NodeWorkers  int    // -node-workers, NUM_NODE_WORKERS
	Nodes        []string
	MockNode     bool
	MockNodeAddr string
	LogProd      bool
	LogService   string
	LogLevel     string

	RetriesMax           int // tries in all
	PayloadMaxKB         int
	ItemsFastTrackMax    int // 0: no limit of its own
	ItemsHighPrioMax     int
	ItemsLowPrioMax      int
	FastTrackPerHighPrio int
	FastTrackDrainFirst  bool
	RequestTimeout       time.Duration // the most a call waits before its first try
	ProxyTimeout         time.Duration // one try

	AdminToken  string
	MetricsAddr string
	LowShare    int
	LowMaxWait  time.Duration
	// MethodTimeouts gives methods (names, or prefixes ending in *) a try
	// timeout of their own instead of ProxyTimeout (-method-timeouts,
	// METHOD_TIMEOUTS: "name=duration,...").
	MethodTimeouts map[string]time.Duration

	// Ignored names the environment variables that were set and that
	// evmgate accepts without using.
	Ignored []string
}

// Defaults of prio-load-balancer (server/consts.go and main.go), and of the
// settings evmgate adds.
const (
	DefaultListenAddr   = "localhost:8080"
	DefaultRedis        = "dev"
	DefaultRedisPrefix  = "prio-load-balancer:"
	DefaultNodeWorkers  = 8
	DefaultMockNodeAddr = "127.0.0.1:8095"
)

// ignoredEnv are prio-load-balancer settings evmgate has no use for.
var ignoredEnv = []string{
	"JOB_CHAN_BUFFER", "JOB_SEND_TIMEOUT", "ENABLE_PPROF", "ENABLE_ERROR_TEST_API",
	"ProxyMaxIdleConns", "ProxyMaxConnsPerHost", "ProxyMaxIdleConnsPerHost", "ProxyIdleConnTimeout",
}

// option is one setting: a flag, its environment variable (may be empty),
// its default, and how to store a value.
type option struct {
	flag, env, def, usage string
	isBool                bool
	set                   func(string) error
}

func options(s *Settings) []option {
	str := func(p *string) func(string) error { return func(v string) error { *p = v; return nil } }
	num := func(p *int) func(string) error { return func(v string) error { return parseInt(v, p) } }
	dur := func(p *time.Duration) func(string) error { return func(v string) error { return parseSeconds(v, p) } }
	boolean := func(p *bool) func(string) error { return func(v string) error { return parseBool(v, p) } }
	var nodes, backends string
	s.Nodes = nil
	addNodes := func(p *string) func(string) error {
		return func(v string) error { *p = v; s.Nodes = append(splitList(nodes), splitList(backends)...); return nil }
	}
	return []option{
		{flag: "http", env: "LISTEN_ADDR", def: DefaultListenAddr, usage: "address to serve calls and /nodes on, host:port", set: str(&s.ListenAddr)},
		{flag: "redis", env: "REDIS_URI", def: DefaultRedis, usage: "Redis with the node list (host:port or redis://...); dev or empty: none", set: str(&s.Redis)},
		{flag: "redis-prefix", env: "REDIS_PREFIX", def: DefaultRedisPrefix, usage: "prefix of the Redis keys", set: str(&s.RedisPrefix)},
		{flag: "node-workers", env: "NUM_NODE_WORKERS", def: strconv.Itoa(DefaultNodeWorkers), usage: "calls in flight per node (a node's ?_workers=N wins)", set: num(&s.NodeWorkers)},
		{flag: "nodes", env: "NODES", usage: "node URLs, comma separated", set: addNodes(&nodes)},
		{flag: "backends", env: "BACKENDS", usage: "node URLs, comma separated (same as -nodes)", set: addNodes(&backends)},
		{flag: "mock-node", def: "false", isBool: true, usage: "serve a mock node and use it", set: boolean(&s.MockNode)},
		{flag: "mock-node-addr", env: "MOCK_NODE_ADDR", def: DefaultMockNodeAddr, usage: "address of the mock node", set: str(&s.MockNodeAddr)},
		{flag: "log-prod", env: "LOG_PROD", def: "false", isBool: true, usage: "JSON logs", set: boolean(&s.LogProd)},
		{flag: "log-service", env: "LOG_SERVICE", usage: "value of a 'service' attribute on every log line", set: str(&s.LogService)},
		{flag: "log-level", env: "LOG_LEVEL", def: "INFO", usage: "ERROR, WARN, INFO or DEBUG", set: str(&s.LogLevel)},
		{flag: "retries-max", env: "RETRIES_MAX", def: "3", usage: "tries of a call in all, on different nodes", set: num(&s.RetriesMax)},
		{flag: "payload-max-kb", env: "PAYLOAD_MAX_KB", def: "8192", usage: "largest request body, in KiB", set: num(&s.PayloadMaxKB)},
		{flag: "items-fasttrack-max", env: "ITEMS_FASTTRACK_MAX", def: "0", usage: "fast-track calls that may wait (0: evmgate's bound, 10000)", set: num(&s.ItemsFastTrackMax)},
		{flag: "items-highprio-max", env: "ITEMS_HIGHPRIO_MAX", def: "0", usage: "high-priority calls that may wait (0: 10000)", set: num(&s.ItemsHighPrioMax)},
		{flag: "items-lowprio-max", env: "ITEMS_LOWPRIO_MAX", def: "0", usage: "low-priority calls that may wait (0: 10000)", set: num(&s.ItemsLowPrioMax)},
		{flag: "items-fasttrack-per-highprio", env: "ITEMS_FASTTRACK_PER_HIGHPRIO", def: "2", usage: "fast-track calls served per high-priority call while both wait", set: num(&s.FastTrackPerHighPrio)},
		{flag: "fasttrack-drain-first", env: "FASTTRACK_DRAIN_FIRST", def: "false", isBool: true, usage: "serve every waiting fast-track call before any high-priority one", set: boolean(&s.FastTrackDrainFirst)},
		{flag: "request-timeout", env: "REQUEST_TIMEOUT", def: "5", usage: "seconds (or a duration such as 500ms) a call may wait for a node; a call's whole budget is this plus -request-proxy-timeout", set: dur(&s.RequestTimeout)},
		{flag: "request-proxy-timeout", env: "REQUEST_PROXY_TIMEOUT", def: "3", usage: "seconds (or a duration) one try on one node may take", set: dur(&s.ProxyTimeout)},
		{flag: "admin-token", env: "ADMIN_TOKEN", usage: "bearer token for /nodes; required unless -http is a loopback address", set: str(&s.AdminToken)},
		{flag: "metrics", env: "METRICS_ADDR", usage: "host:port for /metrics and /status (off when empty)", set: str(&s.MetricsAddr)},
		{flag: "low-share", env: "LOW_SHARE", def: "20", usage: "one grant in this many goes to a waiting low-priority call (-1: never)", set: num(&s.LowShare)},
		{flag: "low-max-wait", env: "LOW_MAX_WAIT", def: "2s", usage: "a low-priority call that waited this long competes as high (seconds or a duration)", set: dur(&s.LowMaxWait)},
		{flag: "method-timeouts", env: "METHOD_TIMEOUTS", usage: "methods given a try timeout of their own instead of -request-proxy-timeout, as method=duration pairs, comma separated; a prefix ends in * (flashbots_validate*=12s,eth_callBundle=6s)", set: func(v string) error { return parseTimeouts(v, &s.MethodTimeouts) }},
	}
}

// Parse reads prio-load-balancer's command line and environment (lookup is
// os.LookupEnv): a flag wins over its variable, a variable over the
// default. Invalid values are errors naming the flag or variable.
func Parse(args []string, lookup func(string) (string, bool)) (Settings, error) {
	var s Settings
	opts := options(&s)
	fs := flag.NewFlagSet("prio", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	for _, o := range opts {
		if err := o.set(o.def); err != nil {
			return Settings{}, fmt.Errorf("-%s default %q: %w", o.flag, o.def, err)
		}
		if e, ok := lookup(o.env); ok && o.env != "" {
			if err := o.set(e); err != nil {
				return Settings{}, fmt.Errorf("%s=%q (-%s): %w", o.env, e, o.flag, err)
			}
		}
		name := o.flag
		wrap := func(v string) error {
			if err := o.set(v); err != nil {
				return fmt.Errorf("%q: %w", v, err)
			}
			return nil
		}
		if o.isBool {
			fs.BoolFunc(name, o.usage, wrap)
		} else {
			fs.Func(name, o.usage, wrap)
		}
	}
	if err := fs.Parse(args); err != nil {
		return Settings{}, fmt.Errorf("parsing prio flags: %w", err)
	}
	if fs.NArg() > 0 {
		return Settings{}, fmt.Errorf("parsing prio flags: unexpected argument %q", fs.Arg(0))
	}
	for _, name := range ignoredEnv {
		if _, ok := lookup(name); ok {
			s.Ignored = append(s.Ignored, name)
		}
	}
	return s, s.validate()
}

// validate checks the values that have a range, naming flag and variable.
func (s *Settings) validate() error {
	var errs []error
	bad := func(flagName, env, format string, args ...any) {
		errs = append(errs, fmt.Errorf("-%s (%s): %s", flagName, env, fmt.Sprintf(format, args...)))
	}
	if s.NodeWorkers < 1 {
		bad("node-workers", "NUM_NODE_WORKERS", "%d: use 1 or more calls in flight per node", s.NodeWorkers)
	}
	if s.PayloadMaxKB < 1 {
		bad("payload-max-kb", "PAYLOAD_MAX_KB", "%d: use 1 or more", s.PayloadMaxKB)
	}
	for _, q := range []struct {
		flag, env string
		v         int
	}{
		{"items-fasttrack-max", "ITEMS_FASTTRACK_MAX", s.ItemsFastTrackMax},
		{"items-highprio-max", "ITEMS_HIGHPRIO_MAX", s.ItemsHighPrioMax},
		{"items-lowprio-max", "ITEMS_LOWPRIO_MAX", s.ItemsLowPrioMax},
		{"retries-max", "RETRIES_MAX", s.RetriesMax},
	} {
		if q.v < 0 {
			bad(q.flag, q.env, "%d: use 0 or more", q.v)
		}
	}
	if s.FastTrackPerHighPrio < 1 {
		bad("items-fasttrack-per-highprio", "ITEMS_FASTTRACK_PER_HIGHPRIO", "%d: use 1 or more", s.FastTrackPerHighPrio)
	}
	if s.RequestTimeout <= 0 {
		bad("request-timeout", "REQUEST_TIMEOUT", "must be more than 0, such as 5 (seconds)")
	}
	if s.ProxyTimeout <= 0 {
		bad("request-proxy-timeout", "REQUEST_PROXY_TIMEOUT", "must be more than 0, such as 3 (seconds)")
	}
	if s.LowShare < -1 || s.LowShare == 0 || s.LowShare == 1 {
		bad("low-share", "LOW_SHARE", "%d: use -1 (never) or 2 or more", s.LowShare)
	}
	if s.LowMaxWait <= 0 {
		bad("low-max-wait", "LOW_MAX_WAIT", "must be more than 0, such as 2s")
	}
	switch strings.ToUpper(s.LogLevel) {
	case "ERROR", "WARN", "INFO", "DEBUG", "TRACE":
	default:
		bad("log-level", "LOG_LEVEL", "%q: use ERROR, WARN, INFO or DEBUG", s.LogLevel)
	}
	if s.MockNode && s.MockNodeAddr == "" {
		bad("mock-node-addr", "MOCK_NODE_ADDR", "is empty: give the mock node a host:port")
	}
	return errors.Join(errs...)
}

// Usage is the help text of `evmgate prio`.
func Usage() string {
	var b bytes.Buffer
	b.WriteString("usage: evmgate prio [flags]\n\nflashbots prio-load-balancer's flags and environment variables; a flag wins over its variable.\n\n")
	var s Settings
	for _, o := range options(&s) {
		fmt.Fprintf(&b, "  -%s", o.flag)
		if !o.isBool {
			b.WriteString(" value")
		}
		b.WriteString("\n    \t" + o.usage)
		var notes []string
		if o.env != "" {
			notes = append(notes, o.env)
		}
		if o.def != "" && o.def != "false" {
			notes = append(notes, "default "+o.def)
		}
		if len(notes) > 0 {
			b.WriteString(" (" + strings.Join(notes, ", ") + ")")
		}
		b.WriteString("\n")
	}
	b.WriteString("\nAccepted and ignored: " + strings.Join(ignoredEnv, ", ") + ".\n")
	return b.String()
}

func splitList(v string) []string {
	var out []string
	for item := range strings.SplitSeq(v, ",") {
		if item = strings.TrimSpace(item); item != "" {
			out = append(out, item)
		}
	}
	return out
}

// The parsers below leave the value as it is for an empty text: an empty
// variable, as in prio-load-balancer, means its default.

func parseInt(v string, p *int) error {
	if strings.TrimSpace(v) == "" {
		return nil
	}
	n, err := strconv.Atoi(strings.TrimSpace(v))
	if err != nil {
		return errors.New("not a whole number")
	}
	*p = n
	return nil
}

// parseSeconds reads a whole number of seconds, as prio-load-balancer
// does, or a Go duration such as "500ms".
func parseSeconds(v string, p *time.Duration) error {
	if v = strings.TrimSpace(v); v == "" {
		return nil
	}
	if n, err := strconv.Atoi(v); err == nil {
		*p = time.Duration(n) * time.Second
		return nil
	}
	d, err := time.ParseDuration(v)
	if err != nil {
		return errors.New("not a number of seconds or a duration such as 500ms")
	}
	*p = d
	return nil
}

// parseTimeouts reads method=duration pairs, comma separated; each
// duration is seconds or a Go duration, as parseSeconds reads them.
func parseTimeouts(v string, p *map[string]time.Duration) error {
	if strings.TrimSpace(v) == "" {
		return nil
	}
	out := map[string]time.Duration{}
	for _, item := range splitList(v) {
		name, d, ok := strings.Cut(item, "=")
		name = strings.TrimSpace(name)
		if !ok || name == "" {
			return fmt.Errorf("%q has no method=duration form, such as eth_callBundle=6s", item)
		}
		if _, dup := out[name]; dup {
			return fmt.Errorf("%q is given twice", name)
		}
		var t time.Duration
		if err := parseSeconds(d, &t); err != nil || strings.TrimSpace(d) == "" {
			return fmt.Errorf("%s: %q is not a number of seconds or a duration such as 500ms", name, strings.TrimSpace(d))
		}
		out[name] = t
	}
	*p = out
	return nil
}

func parseBool(v string, p *bool) error {
	if strings.TrimSpace(v) == "" {
		return nil
	}
	b, err := strconv.ParseBool(strings.TrimSpace(v))
	if err != nil {
		return errors.New("use 1 or 0 (true or false)")
	}
	*p = b
	return nil
}
