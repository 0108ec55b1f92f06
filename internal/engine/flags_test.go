package engine

import (
	"errors"
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestParseFlags(t *testing.T) {
	t.Parallel()
	cfg, err := ParseFlags([]string{
		"--nodes", "http://127.0.0.1:8551#jwt-secret=/s/a.hex#timeout=900,http://10.0.0.2:8551#do-not-use, http://u:p@10.0.0.3:8551 ",
		"--jwt-secret", "/s/cl.hex", "--fcu-majority", "0.75", "--port", "9000", "--listen-addr", "127.0.0.2",
		"--timeout", "2500", "--log-level", "debug", "--min-agree", "2", "--node-timings", "--sepolia",
	})
	if err != nil {
		t.Fatal(err)
	}
	want := Config{
		Enabled: true, ListenAddr: "127.0.0.2:9000", JWTSecretPath: "/s/cl.hex", FCUMajority: 0.75, MinAgree: 2,
		NodeTimeout: "2500ms", GetPayloadTimeout: DefaultGetPayloadTimeout, RecheckInterval: DefaultRecheckInterval,
		LogLevel: "debug",
		Nodes: []NodeConfig{
			{URL: "http://127.0.0.1:8551", JWTSecretPath: "/s/a.hex", Timeout: "900ms"},
			{URL: "http://10.0.0.2:8551", DoNotUse: true},
			{URL: "http://u:p@10.0.0.3:8551"},
		},
	}
	if !reflect.DeepEqual(cfg, want) {
		t.Fatalf("ParseFlags =\n%+v\nwant\n%+v", cfg, want)
	}
}

func TestParseFlagsDefaults(t *testing.T) {
	t.Parallel()
	cfg, err := ParseFlags([]string{"-nodes", "http://127.0.0.1:8551", "-jwt-secret", "/s"})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.ListenAddr != "127.0.0.1:7000" || cfg.FCUMajority != 0.6 || cfg.NodeTimeout != DefaultNodeTimeout || cfg.MinAgree != 1 {
		t.Fatalf("defaults not applied: %+v", cfg)
	}
}

func TestParseFlagsErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"no nodes", []string{"--jwt-secret", "/s"}, "--nodes is required"},
		{"unknown node option", []string{"--nodes", "http://a:1#weight=2"}, `unknown option "weight=2"`},
		{"bad node timeout", []string{"--nodes", "http://a:1#timeout=fast"}, "not a positive number of milliseconds"},
		{"empty url", []string{"--nodes", "#do-not-use"}, "has no URL"},
		{"unknown flag", []string{"--nodes", "http://a:1", "--frobnicate"}, "flag provided but not defined"},
		{"stray argument", []string{"--nodes", "http://a:1", "extra"}, `unexpected argument "extra"`},
		{"credentials never echoed", []string{"--nodes", "http://user:secret@a:1#bogus"}, "http://a:1"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := ParseFlags(tc.args)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("ParseFlags(%v) = %v, want an error containing %q", tc.args, err, tc.want)
			}
			if strings.Contains(err.Error(), "secret@") {
				t.Fatalf("error leaks credentials: %v", err)
			}
		})
	}
	if _, err := ParseFlags([]string{"-h"}); !errors.Is(err, flag.ErrHelp) {
		t.Fatalf("-h: %v, want flag.ErrHelp", err)
	}
	if !strings.Contains(FlagUsage(), "-fcu-majority") {
		t.Fatal("usage lacks -fcu-majority")
	}
}

// Errors of a configuration made from flags name the flags, not the
// configuration file's keys.
func TestValidateFlagsNamesFlags(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--nodes", "http://127.0.0.1:8551", "--jwt-secret", "/nope/jwt.hex"}, "--jwt-secret: "},
		{[]string{"--nodes", "http://127.0.0.1:8551#jwt-secret=/nope/node.hex", "--jwt-secret", "/nope/jwt.hex"}, "--nodes node 1 #jwt-secret: "},
		{[]string{"--nodes", "http://127.0.0.1:8551", "--jwt-secret", "/nope/jwt.hex", "--fcu-majority", "2"}, "--fcu-majority: "},
		{[]string{"--nodes", "ftp://u:pw@127.0.0.1:8551/?key=SECRET", "--jwt-secret", "/nope/jwt.hex"}, `--nodes node 1: "ftp://127.0.0.1:8551" is not an http(s) URL`},
		{[]string{"--nodes", "http://u:pw@a:1/abcdefghijklmnopqrstuvwxyz,http://u:pw@a:1/abcdefghijklmnopqrstuvwxyz", "--jwt-secret", "/nope/jwt.hex"}, `--nodes node 2: "http://a:1/abcd…" repeats node 1`},
	} {
		cfg, err := ParseFlags(tc.args)
		if err != nil {
			t.Fatal(err)
		}
		err = cfg.ValidateFlags()
		if err == nil || !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), "engine.") ||
			strings.Contains(err.Error(), "pw") || strings.Contains(err.Error(), "SECRET") {
			t.Errorf("%v: %v, want %q and no configuration key", tc.args, err, tc.want)
		}
	}
}

func TestConfigValidate(t *testing.T) {
	t.Parallel()
	_, good := randomSecret(t)
	bad := filepath.Join(t.TempDir(), "bad.hex")
	if err := os.WriteFile(bad, []byte("0x1234"), 0o600); err != nil {
		t.Fatal(err)
	}
	base := func() Config {
		c := Config{Enabled: true, JWTSecretPath: good, Nodes: []NodeConfig{{URL: "http://127.0.0.1:8551"}}}
		c.Default()
		return c
	}
	if err := base().Validate(); err != nil {
		t.Fatalf("valid config rejected: %v", err)
	}
	if err := (Config{}).Validate(); err != nil {
		t.Fatalf("disabled config must not be checked: %v", err)
	}
	tests := []struct {
		name string
		edit func(*Config)
		want string
	}{
		{"missing secret", func(c *Config) { c.JWTSecretPath = "" }, "engine.jwt_secret: is required"},
		{"short secret", func(c *Config) { c.JWTSecretPath = bad }, "engine.jwt_secret:"},
		{"node secret missing file", func(c *Config) {
			c.Nodes = append(c.Nodes, NodeConfig{URL: "http://127.0.0.1:8552", JWTSecretPath: "/nope/jwt.hex"})
		}, "engine.nodes[1].jwt_secret:"},
		{"no nodes", func(c *Config) { c.Nodes = nil }, "engine.nodes: is empty"},
		{"duplicate node", func(c *Config) { c.Nodes = append(c.Nodes, c.Nodes[0]) }, "engine.nodes[1].url: "},
		{"bad url", func(c *Config) { c.Nodes[0].URL = "127.0.0.1:8551" }, "engine.nodes[0].url:"},
		{"majority 0", func(c *Config) { c.FCUMajority = -1 }, "engine.fcu_majority:"},
		{"majority over 1", func(c *Config) { c.FCUMajority = 1.5 }, "engine.fcu_majority:"},
		{"min_agree", func(c *Config) { c.MinAgree = -1 }, "engine.min_agree:"},
		{"bad duration", func(c *Config) { c.NodeTimeout = "4" }, `engine.node_timeout: "4" is not a duration`},
		{"getPayload over 1 s", func(c *Config) { c.GetPayloadTimeout = "1s" }, "engine.get_payload_timeout:"},
		{"node timeout", func(c *Config) { c.Nodes[0].Timeout = "-1s" }, "engine.nodes[0].timeout:"},
		{"listen addr", func(c *Config) { c.ListenAddr = "7000" }, "engine.listen_addr:"},
		{"short admin token", func(c *Config) { c.AdminToken = "short" }, "engine.admin_token: is 5 characters: use a secret of at least 16"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c := base()
			tc.edit(&c)
			err := c.Validate()
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Validate = %v, want an error containing %q", err, tc.want)
			}
		})
	}
}
