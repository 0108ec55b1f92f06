package config

import (
	"os"
	"path/filepath"
	"testing"
)

// FuzzParse: Parse never panics, and whatever it accepts is a complete,
// valid configuration.
func FuzzParse(f *testing.F) {
	for _, p := range []string{"testdata/stakesquid-example.yaml", "testdata/stakesquid-minimal.yaml", filepath.Join("..", "..", "examples", "evmgate.yaml")} {
		data, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	for _, s := range []string{
		minimal,
		minimal + "    rpc_timout: 5s\n",
		"port: ${PORT:-8080}\n" + minimal,
		"a: &a [*a]\n",
		"networks: &n\n  - <<: *n\n",
		"networks:\n  - &x {name: m, local_nodes: [{rpc_endpoint: 'http://a:1'}]}\n  - <<: [*x, *x]\n    name: n\n",
		"port: 1e400\nmetrics_port: -1\n" + minimal,
		"? [a]\n: b\n",
		"--- \n...\n",
		"tls:\n  cert_file: a.crt\n" + minimal,
		"tls: {cert_file: a, key_file: b, client_ca_file: c}\n" + minimal,
		"admin:\n  listen: 127.0.0.1:9102\n  tls: {cert_file: a, key_file: b, client_ca_file: c}\n" + minimal,
		"limits:\n  max_connections: -1\n  max_connections_per_ip: 64\n  max_header_bytes: 4096\n  read_header_timeout: 2s\n  idle_timeout: 1m\n" + minimal,
		"limits: {max_connections: -2, max_header_bytes: 1, read_header_timeout: 0s}\n" + minimal,
	} {
		f.Add([]byte(s))
	}
	env := envOf(map[string]string{"PORT": "8081", "KEY": "k"})
	f.Fuzz(func(t *testing.T, data []byte) {
		cfg, err := Parse(data, env)
		if err != nil {
			if cfg != nil {
				t.Fatal("Parse returned a config with an error")
			}
			return
		}
		if len(cfg.Networks) == 0 || cfg.Port < 1 || cfg.RequestTimeout <= 0 {
			t.Fatalf("accepted an incomplete config: %+v", cfg)
		}
		for _, n := range cfg.Networks {
			if n.RPCRetries == nil || n.LocalPollInterval <= 0 || n.MonitoringPollInterval <= 0 || n.RPCTimeout <= 0 {
				t.Fatalf("network not defaulted: %+v", n)
			}
		}
		if err := cfg.Validate(); err != nil {
			t.Fatalf("accepted config fails Validate: %v", err)
		}
	})
}
