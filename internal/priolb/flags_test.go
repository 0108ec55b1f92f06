package priolb

import (
	"slices"
	"strings"
	"testing"
	"time"
)

func env(kv map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := kv[k]; return v, ok }
}

// Defaults are prio-load-balancer's, and they make the configuration
// evmgate's README documents for `evmgate prio`.
func TestDefaults(t *testing.T) {
	s, err := Parse(nil, env(nil))
	if err != nil {
		t.Fatal(err)
	}
	want := Settings{
		ListenAddr: "localhost:8080", Redis: "dev", RedisPrefix: "prio-load-balancer:", NodeWorkers: 8,
		MockNodeAddr: DefaultMockNodeAddr, LogLevel: "INFO", RetriesMax: 3, PayloadMaxKB: 8192,
		FastTrackPerHighPrio: 2, RequestTimeout: 5 * time.Second, ProxyTimeout: 3 * time.Second,
		LowShare: 20, LowMaxWait: 2 * time.Second,
	}
	if !equalSettings(s, want) {
		t.Fatalf("defaults\n got %+v\nwant %+v", s, want)
	}
	cfg, err := s.Config(nil)
	if err != nil {
		t.Fatal(err)
	}
	n := cfg.Networks[0]
	switch {
	case cfg.ListenAddr != "localhost" || cfg.Port != 8080:
		t.Errorf("listen %s:%d", cfg.ListenAddr, cfg.Port)
	case n.Name != "default" || !slices.Equal(n.Paths, []string{"/", "/sim"}) || len(n.LocalNodes) != 0:
		t.Errorf("network %+v", n)
	case *n.RPCRetries != 2 || n.RPCTimeout.D() != 3*time.Second || cfg.RequestTimeout.D() != 8*time.Second:
		t.Errorf("retries %d, try timeout %s, request timeout %s", *n.RPCRetries, n.RPCTimeout.D(), cfg.RequestTimeout.D())
	case cfg.MaxBodyBytes != 8<<20 || cfg.MaxConcurrency != 8 || n.MaxConcurrency != 8:
		t.Errorf("body %d, workers %d/%d", cfg.MaxBodyBytes, cfg.MaxConcurrency, n.MaxConcurrency)
	case cfg.Scheduler.MaxQueuedLow != 10000 || cfg.Scheduler.FastTrackPerHigh != 2 || cfg.Scheduler.DrainFastTrackFirst:
		t.Errorf("scheduler %+v", cfg.Scheduler)
	case !cfg.Admin.OnRPC || cfg.Admin.RedisURL != "" || cfg.MetricsPort != -1 || cfg.LogFormat != "text":
		t.Errorf("admin %+v, metrics port %d, log format %s", cfg.Admin, cfg.MetricsPort, cfg.LogFormat)
	}
}

func equalSettings(a, b Settings) bool {
	return a.ListenAddr == b.ListenAddr && a.Redis == b.Redis && a.RedisPrefix == b.RedisPrefix &&
		a.NodeWorkers == b.NodeWorkers && slices.Equal(a.Nodes, b.Nodes) && a.MockNode == b.MockNode &&
		a.MockNodeAddr == b.MockNodeAddr && a.LogProd == b.LogProd && a.LogService == b.LogService &&
		a.LogLevel == b.LogLevel && a.RetriesMax == b.RetriesMax && a.PayloadMaxKB == b.PayloadMaxKB &&
		a.ItemsFastTrackMax == b.ItemsFastTrackMax && a.ItemsHighPrioMax == b.ItemsHighPrioMax &&
		a.ItemsLowPrioMax == b.ItemsLowPrioMax && a.FastTrackPerHighPrio == b.FastTrackPerHighPrio &&
		a.FastTrackDrainFirst == b.FastTrackDrainFirst && a.RequestTimeout == b.RequestTimeout &&
		a.ProxyTimeout == b.ProxyTimeout && a.AdminToken == b.AdminToken && a.MetricsAddr == b.MetricsAddr &&
		a.LowShare == b.LowShare && a.LowMaxWait == b.LowMaxWait && slices.Equal(a.Ignored, b.Ignored)
}

// Every variable maps to its setting, and its flag wins over it.
func TestEnvironmentAndFlags(t *testing.T) {
	vars := map[string]string{
		"LISTEN_ADDR": "127.0.0.1:9000", "REDIS_URI": "10.0.0.1:6379", "REDIS_PREFIX": "relay:",
		"NUM_NODE_WORKERS": "4", "NODES": "http://a:8545, http://b:8545?_workers=2", "BACKENDS": "http://c:8545",
		"LOG_PROD": "1", "LOG_SERVICE": "validation-queue", "LOG_LEVEL": "debug", "RETRIES_MAX": "5",
		"PAYLOAD_MAX_KB": "2048", "ITEMS_FASTTRACK_MAX": "10", "ITEMS_HIGHPRIO_MAX": "20", "ITEMS_LOWPRIO_MAX": "30",
		"ITEMS_FASTTRACK_PER_HIGHPRIO": "3", "FASTTRACK_DRAIN_FIRST": "1", "REQUEST_TIMEOUT": "7",
		"REQUEST_PROXY_TIMEOUT": "500ms", "ADMIN_TOKEN": "0123456789abcdef", "METRICS_ADDR": "127.0.0.1:9101",
		"LOW_SHARE": "-1", "LOW_MAX_WAIT": "1m", "MOCK_NODE_ADDR": "127.0.0.1:0",
		"JOB_CHAN_BUFFER": "4", "ProxyMaxIdleConns": "100",
	}
	s, err := Parse(nil, env(vars))
	if err != nil {
		t.Fatal(err)
	}
	want := Settings{
		ListenAddr: "127.0.0.1:9000", Redis: "10.0.0.1:6379", RedisPrefix: "relay:", NodeWorkers: 4,
		Nodes: []string{"http://a:8545", "http://b:8545?_workers=2", "http://c:8545"}, MockNodeAddr: "127.0.0.1:0",
		LogProd: true, LogService: "validation-queue", LogLevel: "debug", RetriesMax: 5, PayloadMaxKB: 2048,
		ItemsFastTrackMax: 10, ItemsHighPrioMax: 20, ItemsLowPrioMax: 30, FastTrackPerHighPrio: 3,
		FastTrackDrainFirst: true, RequestTimeout: 7 * time.Second, ProxyTimeout: 500 * time.Millisecond,
		AdminToken: "0123456789abcdef", MetricsAddr: "127.0.0.1:9101", LowShare: -1, LowMaxWait: time.Minute,
		Ignored: []string{"JOB_CHAN_BUFFER", "ProxyMaxIdleConns"},
	}
	if !equalSettings(s, want) {
		t.Fatalf("from the environment\n got %+v\nwant %+v", s, want)
	}
	cfg, err := s.Config(append([]string{"http://r:8545"}, s.Nodes...))
	if err != nil {
		t.Fatal(err)
	}
	n := cfg.Networks[0]
	if len(n.LocalNodes) != 4 || n.LocalNodes[2].RPCEndpoint != "http://b:8545?_workers=2" || *n.RPCRetries != 4 ||
		cfg.RequestTimeout.D() != 7500*time.Millisecond || cfg.MaxBodyBytes != 2<<20 || cfg.LogFormat != "json" ||
		cfg.Scheduler.MaxQueuedFastTrack != 10 || cfg.Scheduler.MaxQueuedHigh != 20 || cfg.Scheduler.MaxQueuedLow != 30 ||
		cfg.Admin.RedisURL != "redis://10.0.0.1:6379" || cfg.Admin.RedisPrefix != "relay:evmgate:" ||
		cfg.MetricsAddr != "127.0.0.1" || cfg.MetricsPort != 9101 || cfg.LogLevel != "DEBUG" {
		t.Fatalf("configuration %+v\nnetwork %+v", cfg, n)
	}

	flags := []string{"-http", "127.0.0.1:9001", "-nodes", "http://x:8545", "-backends", "", "-node-workers", "2",
		"-retries-max", "1", "-payload-max-kb", "1", "-fasttrack-drain-first=false", "-request-timeout", "1s",
		"-log-prod=false", "-redis", "dev", "-mock-node", "--items-lowprio-max", "5"}
	s, err = Parse(flags, env(vars))
	if err != nil {
		t.Fatal(err)
	}
	if s.ListenAddr != "127.0.0.1:9001" || !slices.Equal(s.Nodes, []string{"http://x:8545"}) || s.NodeWorkers != 2 ||
		s.RetriesMax != 1 || s.PayloadMaxKB != 1 || s.FastTrackDrainFirst || s.RequestTimeout != time.Second ||
		s.LogProd || s.Redis != "dev" || !s.MockNode || s.ItemsLowPrioMax != 5 || s.ItemsHighPrioMax != 20 {
		t.Fatalf("flags over the environment: %+v", s)
	}
}

// An empty variable is its default, as in prio-load-balancer; a wrong
// value is an error naming the variable or flag and the fix.
func TestBadValues(t *testing.T) {
	if s, err := Parse(nil, env(map[string]string{"RETRIES_MAX": "", "LOG_PROD": ""})); err != nil || s.RetriesMax != 3 || s.LogProd {
		t.Fatalf("empty variables: %+v %v", s, err)
	}
	for _, tc := range []struct {
		name string
		vars map[string]string
		args []string
		want []string
	}{
		{"not a number", map[string]string{"NUM_NODE_WORKERS": "eight"}, nil, []string{`NUM_NODE_WORKERS="eight" (-node-workers)`, "not a whole number"}},
		{"no workers", map[string]string{"NUM_NODE_WORKERS": "0"}, nil, []string{"-node-workers (NUM_NODE_WORKERS)", "use 1 or more"}},
		{"bad flag value", nil, []string{"-retries-max", "x"}, []string{"retries-max", "not a whole number"}},
		{"bad bool", map[string]string{"FASTTRACK_DRAIN_FIRST": "yes please"}, nil, []string{"FASTTRACK_DRAIN_FIRST", "use 1 or 0"}},
		{"bad duration", map[string]string{"REQUEST_TIMEOUT": "soon"}, nil, []string{"REQUEST_TIMEOUT", "number of seconds"}},
		{"zero timeout", map[string]string{"REQUEST_PROXY_TIMEOUT": "0"}, nil, []string{"REQUEST_PROXY_TIMEOUT", "more than 0"}},
		{"negative cap", map[string]string{"ITEMS_LOWPRIO_MAX": "-1"}, nil, []string{"ITEMS_LOWPRIO_MAX", "0 or more"}},
		{"unknown flag", nil, []string{"-debug"}, []string{"flag provided but not defined: -debug"}},
		{"argument", nil, []string{"serve"}, []string{`unexpected argument "serve"`}},
		{"low share 1", map[string]string{"LOW_SHARE": "1"}, nil, []string{"LOW_SHARE", "-1 (never) or 2 or more"}},
		{"log level", map[string]string{"LOG_LEVEL": "loud"}, nil, []string{"LOG_LEVEL", "use ERROR"}},
		{"timeout without =", map[string]string{"METHOD_TIMEOUTS": "eth_callBundle"}, nil, []string{"METHOD_TIMEOUTS", `"eth_callBundle" has no method=duration form`}},
		{"timeout not a duration", nil, []string{"-method-timeouts", "a=1s,b=soon"}, []string{"-method-timeouts", `b: "soon" is not a number of seconds`}},
		{"timeout twice", nil, []string{"-method-timeouts", "a=1s, a=2s"}, []string{`"a" is given twice`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse(tc.args, env(tc.vars))
			if err == nil {
				t.Fatal("accepted")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not say %q", err, w)
				}
			}
		})
	}
}

// Listening beyond loopback needs a token for /nodes; addresses are checked.
func TestConfigChecks(t *testing.T) {
	for _, tc := range []struct {
		name string
		vars map[string]string
		want string // "" valid
	}{
		{"docker default without token", map[string]string{"LISTEN_ADDR": ":8080"}, `-http (LISTEN_ADDR) ":8080" is not a loopback address`},
		{"all interfaces with token", map[string]string{"LISTEN_ADDR": "0.0.0.0:8080", "ADMIN_TOKEN": "0123456789abcdef"}, ""},
		{"short token", map[string]string{"ADMIN_TOKEN": "short"}, "use at least 16"},
		{"no port", map[string]string{"LISTEN_ADDR": "localhost"}, "is not host:port"},
		{"bad metrics", map[string]string{"METRICS_ADDR": "9101"}, "-metrics (METRICS_ADDR)"},
		{"ipv6 loopback", map[string]string{"LISTEN_ADDR": "[::1]:8080"}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := Parse(nil, env(tc.vars))
			if err != nil {
				t.Fatal(err)
			}
			_, err = s.Config(nil)
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("refused: %v", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Fatalf("error %v, want %q", err, tc.want)
			}
		})
	}
}

// An error about a node of -nodes names the flag and the node, not the
// configuration file's key.
func TestConfigNamesTheNodesFlag(t *testing.T) {
	s, err := Parse(nil, env(nil))
	if err != nil {
		t.Fatal(err)
	}
	_, err = s.Config([]string{"http://127.0.0.1:8545", "127.0.0.1:8546"})
	if err == nil || !strings.Contains(err.Error(), `-nodes (NODES) node 2: "127.0.0.1:8546" has no scheme`) || strings.Contains(err.Error(), "networks[") {
		t.Fatalf("a node without a scheme: %v", err)
	}
}

// -method-timeouts becomes method_timeouts, seconds or durations; an
// entry the configuration refuses is named by the flag, not the key.
func TestMethodTimeoutsFlag(t *testing.T) {
	s, err := Parse([]string{"-method-timeouts", "flashbots_validate*=12, eth_callBundle=1500ms"}, env(nil))
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := s.Config([]string{"http://127.0.0.1:8545"})
	if err != nil {
		t.Fatal(err)
	}
	got := cfg.Networks[0].Timeouts()
	if len(got) != 2 || got["flashbots_validate*"] != 12*time.Second || got["eth_callBundle"] != 1500*time.Millisecond {
		t.Fatalf("method_timeouts %v", got)
	}
	s, err = Parse(nil, env(map[string]string{"METHOD_TIMEOUTS": "debug_?=5,eth_call=0s"}))
	if err != nil {
		t.Fatal(err)
	}
	_, err = s.Config([]string{"http://127.0.0.1:8545"})
	if err == nil || !strings.Contains(err.Error(), `-method-timeouts (METHOD_TIMEOUTS): "debug_?" is not a method or a prefix`) ||
		!strings.Contains(err.Error(), `-method-timeouts (METHOD_TIMEOUTS)."eth_call": 0s is too short`) || strings.Contains(err.Error(), "\n  method_timeouts") {
		t.Fatalf("bad entries: %v", err)
	}
}

// Exact duplicates are dropped; URLs that would show the same name get
// distinct names.
func TestConfigNodes(t *testing.T) {
	got := configNodes([]string{"http://a:8545", "http://a:8545", "http://a:8545?_workers=2", "http://b:8545"})
	if len(got) != 3 || got[0].Name != "" || got[1].Name != "http://a:8545#2" || got[2].Name != "" {
		t.Fatalf("nodes %+v", got)
	}
}

func TestUsageListsEverySetting(t *testing.T) {
	u := Usage()
	var s Settings
	for _, o := range options(&s) {
		if !strings.Contains(u, "-"+o.flag) || (o.env != "" && !strings.Contains(u, o.env)) {
			t.Errorf("usage misses -%s / %s", o.flag, o.env)
		}
	}
	for _, name := range ignoredEnv {
		if !strings.Contains(u, name) {
			t.Errorf("usage misses ignored %s", name)
		}
	}
}
