package config

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

// noEnv is a lookup with no variables set.
func noEnv(string) (string, bool) { return "", false }

func envOf(vars map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := vars[k]; return v, ok }
}

func parseFile(t *testing.T, path string) *Config {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := Parse(data, noEnv)
	if err != nil {
		t.Fatalf("parsing %s: %v", path, err)
	}
	return cfg
}

func ptr[T any](v T) *T { return &v }

// TestStakeSquidExample loads the full example of StakeSquid's README,
// comments included, and checks every value and default.
func TestStakeSquidExample(t *testing.T) {
	cfg := parseFile(t, "testdata/stakesquid-example.yaml")
	if cfg.Port != 8080 || cfg.LogLevel != "INFO" || cfg.LogRateLimit.D() != 10*time.Second || cfg.MetricsPort != 9101 {
		t.Errorf("top level: port %d, log_level %q, log_rate_limit %s, metrics_port %d",
			cfg.Port, cfg.LogLevel, cfg.LogRateLimit.D(), cfg.MetricsPort)
	}
	if cfg.ListenAddr != DefaultListenAddr || cfg.Strategy != DefaultStrategy || cfg.LogFormat != "text" || !*cfg.LogRequests {
		t.Errorf("evmgate defaults not applied: %+v", cfg)
	}
	if len(cfg.Networks) != 2 {
		t.Fatalf("got %d networks, want 2", len(cfg.Networks))
	}
	main := cfg.Networks[0]
	wantMain := Network{
		Name: "mainnet",
		LocalNodes: []Node{
			{RPCEndpoint: "http://mainnet-1:8545", PrometheusEndpoint: "http://mainnet-1:9100/metrics", Weight: 1},
			{RPCEndpoint: "http://mainnet-2:8545", PrometheusEndpoint: "http://mainnet-2:9100/metrics", Weight: 1},
			{RPCEndpoint: "http://mainnet-3:8545", PrometheusEndpoint: "http://mainnet-3:9100/metrics", Weight: 1},
		},
		MonitoringNodes:                []Node{{RPCEndpoint: "http://monitoring-node-1:9545", Weight: 1}},
		FallbackNodes:                  []Node{{RPCEndpoint: "http://fallback-node-1:9656", Weight: 1}, {RPCEndpoint: "http://fallback-node-2:9657", Weight: 1}},
		LoadBalancePriority:            []string{"latency", "load"},
		LoadPeriod:                     1,
		LocalPollInterval:              Duration(500 * time.Millisecond),
		MonitoringPollInterval:         Duration(time.Second),
		NetworkBlockDiff:               5,
		FallbackBlockDiff:              50,
		UseLoadTracker:                 true,
		RPCTimeout:                     Duration(5 * time.Second),
		RPCRetries:                     ptr(3),
		SwitchToFallbackEnabled:        true,
		SwitchToFallbackBlockThreshold: 10,
		Strategy:                       DefaultStrategy,
		DownAfter:                      DefaultDownAfter,
		LogsSplit:                      ptr(true),
		LogsChunkBlocks:                DefaultLogsChunkBlocks,
		LogsSplitConcurrency:           DefaultLogsSplitConcurrency,
		Hedge:                          defaultHedge(),
		CircuitBreaker:                 defaultBreaker(),
	}
	if !reflect.DeepEqual(main, wantMain) {
		t.Errorf("mainnet:\n got %+v\nwant %+v", main, wantMain)
	}
	rop := cfg.Networks[1]
	wantRop := Network{
		Name:                   "ropsten",
		LocalNodes:             []Node{{RPCEndpoint: "http://localhost:8548", Weight: 1}},
		LoadBalancePriority:    []string{"chainhead", "latency"},
		LoadPeriod:             1,
		LocalPollInterval:      Duration(15 * time.Second),
		MonitoringPollInterval: Duration(15 * time.Second), // defaults to local_poll_interval
		NetworkBlockDiff:       10,
		FallbackBlockDiff:      10, // defaults to network_block_diff
		RPCTimeout:             Duration(10 * time.Second),
		RPCRetries:             ptr(5),
		Strategy:               DefaultStrategy,
		DownAfter:              DefaultDownAfter,
		LogsSplit:              ptr(true),
		LogsChunkBlocks:        DefaultLogsChunkBlocks,
		LogsSplitConcurrency:   DefaultLogsSplitConcurrency,
		Hedge:                  defaultHedge(),
		CircuitBreaker:         defaultBreaker(),
	}
	if !reflect.DeepEqual(rop, wantRop) {
		t.Errorf("ropsten:\n got %+v\nwant %+v", rop, wantRop)
	}
}

// TestStakeSquidMinimal loads the README's minimal configuration.
func TestStakeSquidMinimal(t *testing.T) {
	cfg := parseFile(t, "testdata/stakesquid-minimal.yaml")
	if len(cfg.Networks) != 1 {
		t.Fatalf("got %d networks, want 1", len(cfg.Networks))
	}
	n := cfg.Networks[0]
	checks := []struct {
		key       string
		got, want any
	}{
		{"port", cfg.Port, Port(8080)},
		{"metrics_port", cfg.MetricsPort, Port(9101)},
		{"name", n.Name, "mainnet"},
		{"local_nodes", len(n.LocalNodes), 2},
		{"local_nodes[1].rpc_endpoint", n.LocalNodes[1].RPCEndpoint, "http://localhost:9656"},
		{"local_poll_interval", n.LocalPollInterval.D(), time.Second},
		{"monitoring_poll_interval", n.MonitoringPollInterval.D(), time.Second},
		{"network_block_diff", n.NetworkBlockDiff, uint64(10)},
		{"fallback_block_diff", n.FallbackBlockDiff, uint64(10)},
		{"rpc_timeout", n.RPCTimeout.D(), 10 * time.Second},
		{"rpc_retries", *n.RPCRetries, 5},
		{"load_balance_priority", n.LoadBalancePriority, []string{"chainhead", "latency"}},
		{"switch_to_fallback_enabled", n.SwitchToFallbackEnabled, false},
		{"request_timeout", cfg.RequestTimeout.D(), DefaultRequestTimeout},
		{"max_batch_size", cfg.MaxBatchSize, DefaultMaxBatchSize},
		{"scheduler.low_share", cfg.Scheduler.LowShare, DefaultLowShare},
	}
	for _, c := range checks {
		if !reflect.DeepEqual(c.got, c.want) {
			t.Errorf("%s = %v, want %v", c.key, c.got, c.want)
		}
	}
}

// TestEvmgateExample loads the documented example at the repository root.
func TestEvmgateExample(t *testing.T) {
	cfg, err := Load(filepath.Join("..", "..", "examples", "evmgate.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.Networks) != 2 || cfg.Networks[0].Name != "mainnet" || cfg.Networks[1].Name != "sepolia" {
		t.Fatalf("networks: %+v", cfg.Networks)
	}
	m := cfg.Networks[0]
	if got := m.MonitoringNodes[0].RPCEndpoint; os.Getenv("ALCHEMY_API_KEY") == "" && !strings.HasSuffix(got, "/v2/replace-with-your-alchemy-key") {
		t.Errorf("default not expanded: %s", got)
	}
	if got := m.FallbackNodes[1].Headers["Host"]; got != "eth.rpc.example.net" {
		t.Errorf("headers.Host = %q", got)
	}
	if m.LocalNodes[0].Weight != 2 || m.LocalNodes[0].MaxConcurrency != 64 || m.LocalNodes[1].Gzip == nil || *m.LocalNodes[1].Gzip {
		t.Errorf("local node keys: %+v", m.LocalNodes)
	}
	if cfg.Networks[1].MonitoringPollInterval.D() != time.Second || *cfg.Networks[1].RPCRetries != DefaultRPCRetries {
		t.Errorf("sepolia defaults: %+v", cfg.Networks[1])
	}
	if cfg.MetricsAddr != "127.0.0.1" || cfg.Scheduler.LowMaxWait.D() != 2*time.Second || m.MaxBlockAge.D() != time.Minute {
		t.Errorf("evmgate keys: %+v", cfg)
	}
}

func TestLoadMissingFile(t *testing.T) {
	_, err := Load(filepath.Join(t.TempDir(), "nope.yaml"))
	if err == nil || !strings.Contains(err.Error(), "reading config") {
		t.Fatalf("got %v", err)
	}
}

const minimal = `networks:
  - name: mainnet
    local_nodes:
      - rpc_endpoint: http://127.0.0.1:8545
`

// TestStrictDecoding: an unknown or misspelt key names the key, its line and
// its path, and suggests the nearest known key.
func TestStrictDecoding(t *testing.T) {
	tests := []struct {
		name string
		yaml string
		want []string
	}{
		{"network key", minimal + "    rpc_timout: 5s\n",
			[]string{`line 5: unknown key "rpc_timout" in networks[0]`, `did you mean "rpc_timeout"?`}},
		{"top-level key", "prot: 8080\n" + minimal,
			[]string{`line 1: unknown key "prot" at the top level`, `did you mean "port"?`}},
		{"node key", strings.Replace(minimal, "rpc_endpoint: http://127.0.0.1:8545", "rpc_endpoint: http://127.0.0.1:8545\n        prometheus: x", 1),
			[]string{`line 5: unknown key "prometheus" in networks[0].local_nodes[0]`}},
		{"unrelated key", "colour: blue\n" + minimal,
			[]string{`line 1: unknown key "colour" at the top level: check its spelling`}},
		{"scheduler key", "scheduler:\n  low_shares: 3\n" + minimal,
			[]string{`line 2: unknown key "low_shares" in scheduler`, `"low_share"`}},
		{"two at once", "prot: 1\n" + minimal + "    locl_poll_interval: 1s\n",
			[]string{`line 1: unknown key "prot"`, `line 6: unknown key "locl_poll_interval"`}},
		{"wrong type", "port: [1]\n" + minimal, []string{"line 1", "port"}},
		{"wrong scalar type", minimal + "    rpc_retries: \"3\"\n", []string{`line 5: networks[0].rpc_retries: "3" is not a whole number: write it without quotes, rpc_retries: 3`}},
		{"bad duration", minimal + "    rpc_timeout: soon\n", []string{`line 5: networks[0].rpc_timeout: "soon" is not a duration: write it like "500ms"`}},
		{"nan duration", minimal + "    rpc_timeout: NaN\n", []string{`line 5: networks[0].rpc_timeout: "NaN" is not a duration`}},
		{"huge duration", minimal + "    rpc_timeout: 1e30\n", []string{`line 5: networks[0].rpc_timeout: "1e30" is not a duration`}},
		{"bad port", "port: 70000\n" + minimal, []string{`line 1: port: "70000" is not a port`}},
		{"duplicate key", "port: 1\nport: 2\n" + minimal, []string{"line 2", `"port" already`}},
		{"syntax", "port: [\n", []string{"reading YAML"}},
		{"empty", "", []string{"the file is empty"}},
		{"comments only", "# nothing\n", []string{"the file is empty"}},
		{"list at top", "- a\n", []string{"the top level"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse([]byte(tt.yaml), noEnv)
			if err == nil {
				t.Fatal("Parse succeeded")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
		})
	}
}

// TestMergeKeys: YAML anchors and merge keys work, and keys merged in are
// checked like any other.
func TestMergeKeys(t *testing.T) {
	base := `defaults: &d
  rpc_timeout: 2s
  network_block_diff: 3
`
	_, err := Parse([]byte(base+minimal), noEnv)
	if err == nil || !strings.Contains(err.Error(), `unknown key "defaults"`) {
		t.Fatalf("a stray anchor holder is still an unknown key: %v", err)
	}
	good := `networks:
  - &net
    name: mainnet
    rpc_timeout: 2s
    local_nodes:
      - rpc_endpoint: http://127.0.0.1:8545
  - <<: *net
    name: sepolia
`
	cfg, err := Parse([]byte(good), noEnv)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Networks[1].Name != "sepolia" || cfg.Networks[1].RPCTimeout.D() != 2*time.Second || len(cfg.Networks[1].LocalNodes) != 1 {
		t.Errorf("merged network: %+v", cfg.Networks[1])
	}
	bad := strings.Replace(good, "rpc_timeout: 2s", "rpc_timout: 2s", 1)
	if _, err := Parse([]byte(bad), noEnv); err == nil || !strings.Contains(err.Error(), `unknown key "rpc_timout" in networks[0]`) {
		t.Errorf("got %v", err)
	}
}

func TestEnvExpansion(t *testing.T) {
	env := envOf(map[string]string{"KEY": "abc123", "PORT": "9000", "EMPTY": ""})
	tests := []struct {
		name    string
		yaml    string
		check   func(*Config) bool
		wantErr string
	}{
		{"set", "port: ${PORT}\n" + strings.Replace(minimal, "8545", "8545/${KEY}", 1),
			func(c *Config) bool {
				return c.Port == 9000 && c.Networks[0].LocalNodes[0].RPCEndpoint == "http://127.0.0.1:8545/abc123"
			}, ""},
		{"default used", strings.Replace(minimal, "8545", "${NODE_PORT:-8546}", 1),
			func(c *Config) bool { return c.Networks[0].LocalNodes[0].RPCEndpoint == "http://127.0.0.1:8546" }, ""},
		{"default ignored when set", strings.Replace(minimal, "mainnet", "${KEY:-other}", 1),
			func(c *Config) bool { return c.Networks[0].Name == "abc123" }, ""},
		{"empty takes the default", strings.Replace(minimal, "mainnet", "${EMPTY:-main}", 1),
			func(c *Config) bool { return c.Networks[0].Name == "main" }, ""},
		{"number from a plain scalar", minimal + "    rpc_retries: ${RETRIES:-4}\n",
			func(c *Config) bool { return *c.Networks[0].RPCRetries == 4 }, ""},
		{"comments are not expanded", "# export ${SOME_KEY} first\n" + minimal + "    # ${ANOTHER}\n",
			func(c *Config) bool { return true }, ""},
		{"unset", strings.Replace(minimal, "8545", "8545/${INFURA_KEY}", 1), nil,
			"environment variable INFURA_KEY (line 4) is not set"},
		{"empty without default", strings.Replace(minimal, "8545", "8545/${EMPTY}", 1), nil,
			"environment variable EMPTY (line 4) is not set (or is empty)"},
		{"several unset", strings.Replace(minimal, "8545", "${A}/${B}/${A}", 1), nil,
			"environment variables A (line 4), B (line 4) are not set (or are empty): export them"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := Parse([]byte(tt.yaml), env)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("got %v, want an error containing %q", err, tt.wantErr)
				}
				if !strings.Contains(err.Error(), ":-default}") {
					t.Errorf("error %q does not say how to give a default", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !tt.check(cfg) {
				t.Errorf("unexpected config: %+v", cfg.Networks[0])
			}
		})
	}
	// A value is only ever a value: this one would add a chain_id key if it
	// were pasted into the text; instead it is an invalid name.
	injected := envOf(map[string]string{"INJECT": "mainnet\n    chain_id: 5"})
	_, err := Parse([]byte(strings.Replace(minimal, "mainnet", "${INJECT}", 1)), injected)
	if err == nil || !strings.Contains(err.Error(), "networks[0].name") {
		t.Errorf("a variable's value changed the file's structure: %v", err)
	}
}

// TestRPCRetriesZero: an explicit rpc_retries: 0 is kept, not defaulted.
func TestRPCRetriesZero(t *testing.T) {
	cfg, err := Parse([]byte(minimal+"    rpc_retries: 0\n"), noEnv)
	if err != nil {
		t.Fatal(err)
	}
	if *cfg.Networks[0].RPCRetries != 0 {
		t.Errorf("rpc_retries = %d", *cfg.Networks[0].RPCRetries)
	}
	cfg, err = Parse([]byte(minimal), noEnv)
	if err != nil {
		t.Fatal(err)
	}
	if *cfg.Networks[0].RPCRetries != DefaultRPCRetries {
		t.Errorf("default rpc_retries = %d", *cfg.Networks[0].RPCRetries)
	}
}

func TestDurationAndPortForms(t *testing.T) {
	cfg, err := Parse([]byte("port: \"8081\"\nmetrics_port: -1\n"+minimal+"    local_poll_interval: 2\n    rpc_timeout: 1.5\n    monitoring_poll_interval: 250ms\n"), noEnv)
	if err != nil {
		t.Fatal(err)
	}
	n := cfg.Networks[0]
	if cfg.Port != 8081 || cfg.MetricsPort != -1 || n.LocalPollInterval.D() != 2*time.Second ||
		n.RPCTimeout.D() != 1500*time.Millisecond || n.MonitoringPollInterval.D() != 250*time.Millisecond {
		t.Errorf("got port %d metrics %d poll %s timeout %s monitoring %s", cfg.Port, cfg.MetricsPort,
			n.LocalPollInterval.D(), n.RPCTimeout.D(), n.MonitoringPollInterval.D())
	}
	out, err := Duration(1500 * time.Millisecond).MarshalYAML()
	if err != nil || out != "1.5s" {
		t.Errorf("MarshalYAML = %v, %v", out, err)
	}
}
