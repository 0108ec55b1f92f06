package main

import (
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// The short commands: exit code and the first line a user reads.
func TestShortCommandsAsProcess(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.yaml")
	writeFile(t, bad, "networks:\n  - name: mainnet\n    local_nodes:\n      - rpc_endpoint: http://127.0.0.1:8545\n    rpc_timout: 5s\n")
	invalid := filepath.Join(dir, "invalid.yaml")
	writeFile(t, invalid, "networks:\n  - name: mainnet\n    local_nodes:\n      - rpc_endpoint: ftp://127.0.0.1:8545\n")
	writeFile(t, filepath.Join(dir, "jwt.hex"), strings.Repeat("ab", 32)+"\n")
	attested := filepath.Join(dir, "attested.yaml")
	writeFile(t, attested, "networks:\n  - name: mainnet\n    local_nodes:\n      - rpc_endpoint: https://SGX_"+strings.Repeat("ab", 32)+"@127.0.0.1:8545\n"+
		"      - rpc_endpoint: https://127.0.0.1:8546\n        attestation: {type: sev-snp, measurements: ["+strings.Repeat("11", 48)+"]}\n")
	badAttested := filepath.Join(dir, "bad-attested.yaml")
	writeFile(t, badAttested, "networks:\n  - name: mainnet\n    local_nodes:\n      - rpc_endpoint: http://127.0.0.1:8546\n        attestation: {type: tdx, measurements: [00]}\n")
	engineOnly := filepath.Join(dir, "engine.yaml")
	writeFile(t, engineOnly, "engine:\n  enabled: true\n  jwt_secret: "+filepath.Join(dir, "jwt.hex")+"\n  nodes:\n    - url: http://127.0.0.1:8551\n")
	// Files the server refuses at start, which validate refuses the same way.
	node := "networks:\n  - name: mainnet\n    local_nodes:\n      - rpc_endpoint: http://127.0.0.1:8545"
	workers := filepath.Join(dir, "workers.yaml")
	writeFile(t, workers, node+"?_workers=abc\n")
	missing := filepath.Join(dir, "missing.pem")
	noCert := filepath.Join(dir, "no-cert.yaml")
	writeFile(t, noCert, "tls:\n  cert_file: "+missing+"\n  key_file: "+missing+"\n"+node+"\n")
	noJWKS := filepath.Join(dir, "no-jwks.yaml")
	writeFile(t, noJWKS, "access:\n  jwt:\n    jwks_file: "+missing+"\n"+node+"\n")
	bodyMB := filepath.Join(dir, "body-mb.yaml")
	writeFile(t, bodyMB, "port: 8080\nlisten_addr: 127.0.0.1\nmax_body_bytes: 8MB\n"+node+"\n")
	const badWorkers = `networks[0].local_nodes[0].rpc_endpoint: _workers="abc" is not a number of workers: write a whole number of 1 or more, e.g. ?_workers=8`
	cases := []struct {
		name      string
		args      []string
		code      int
		stdout    string // the first line of stdout contains it
		stderr    string // the first line of stderr contains it
		stderrAll string // stderr contains it
	}{
		{name: "version", args: []string{"version"}, stdout: "evmgate dev"},
		{name: "help", args: []string{"help"}, stdout: "usage:"},
		{name: "-h", args: []string{"-h"}, stdout: "usage:"},
		{name: "--help", args: []string{"--help"}, stdout: "usage:"},
		{name: "validate -h", args: []string{"validate", "-h"}, stdout: "usage:", stderr: ""},
		{name: "serve -h", args: []string{"serve", "-h"}, stdout: "usage:"},
		{name: "validate FILE without -config", args: []string{"validate", "examples/evmgate.yaml"}, code: 1,
			stderr: `unexpected argument "examples/evmgate.yaml": name the file with -config examples/evmgate.yaml`},
		{name: "demo -h", args: []string{"demo", "-h"}, stdout: "usage: evmgate demo [-port N] [-metrics-port N] [-v]"},
		{name: "demo with a bad port", args: []string{"demo", "-port", "abc"}, code: 1,
			stderr: `evmgate: invalid value "abc" for flag -port: parse error (usage: evmgate demo`},
		{name: "engine -h", args: []string{"engine", "-h"}, stderr: "usage: evmgate engine", stderrAll: "-fcu-majority"},
		{name: "unknown command", args: []string{"frobnicate"}, code: 1, stderr: `evmgate: unknown command "frobnicate"`, stderrAll: "usage:"},
		{name: "unknown flag", args: []string{"-confg", "x.yaml"}, code: 1, stderr: "flag provided but not defined: -confg", stderrAll: "usage:"},
		{name: "missing config file", args: []string{"-config", filepath.Join(dir, "nope.yaml")}, code: 1,
			stderr: "evmgate: reading config: open " + filepath.Join(dir, "nope.yaml") + ": no such file or directory (name a file with -config FILE"},
		{name: "validate good", args: []string{"validate", "-config", "../../examples/evmgate.yaml"}, stdout: "../../examples/evmgate.yaml is valid: 2 network(s), 6 node(s)"},
		{name: "validate stakesquid example", args: []string{"validate", "-config", "../../internal/config/testdata/stakesquid-example.yaml"}, stdout: "is valid: 2 network(s)"},
		{name: "validate stakesquid minimal", args: []string{"validate", "-config", "../../internal/config/testdata/stakesquid-minimal.yaml"}, stdout: "is valid: 1 network(s), 2 node(s)"},
		{name: "validate engine only", args: []string{"validate", "-config", engineOnly}, stdout: "is valid: 0 network(s), 0 node(s), Engine API multiplexer with 1 node(s) on 127.0.0.1:7000"},
		{name: "validate attested nodes", args: []string{"validate", "-config", attested}, stdout: "is valid: 1 network(s), 2 node(s)"},
		{name: "validate bad measurement", args: []string{"validate", "-config", badAttested}, code: 1, stderrAll: "attestation.measurements[0]"},
		{name: "validate misspelt key", args: []string{"validate", "-config", bad}, code: 1, stderr: `line 5`, stderrAll: `unknown key "rpc_timout"`},
		{name: "validate bad value", args: []string{"validate", "-config", invalid}, code: 1, stderrAll: "networks[0].local_nodes[0].rpc_endpoint"},
		{name: "validate bad _workers", args: []string{"validate", "-config", workers}, code: 1, stderr: "invalid configuration", stderrAll: badWorkers},
		{name: "serve bad _workers", args: []string{"-config", workers}, code: 1, stderr: "invalid configuration", stderrAll: badWorkers},
		{name: "validate missing tls.cert_file", args: []string{"validate", "-config", noCert}, code: 1,
			stderrAll: "tls.cert_file: " + missing + " does not exist: check the path"},
		{name: "validate missing access.jwt.jwks_file", args: []string{"validate", "-config", noJWKS}, code: 1,
			stderrAll: "access.jwt.jwks_file: " + missing + " does not exist: check the path"},
		{name: "validate wrong type", args: []string{"validate", "-config", bodyMB}, code: 1,
			stderr: `line 3: max_body_bytes: "8MB" is not a whole number: write bytes as a number, e.g. 8388608`},
		{name: "validate missing file", args: []string{"validate", "-config", filepath.Join(dir, "nope.yaml")}, code: 1, stderr: "no such file or directory"},
		{name: "engine without nodes", args: []string{"engine", "--jwt-secret", "/nonexistent"}, code: 1, stderr: "--nodes is required"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			code, stdout, stderr := runProc(t, c.args...)
			if code != c.code {
				t.Fatalf("exit code %d, want %d\nstdout: %s\nstderr: %s", code, c.code, stdout, stderr)
			}
			if !strings.Contains(firstLine(stdout), c.stdout) {
				t.Errorf("first line of stdout %q, want it to contain %q", firstLine(stdout), c.stdout)
			}
			if !strings.Contains(firstLine(stderr), c.stderr) {
				t.Errorf("first line of stderr %q, want it to contain %q", firstLine(stderr), c.stderr)
			}
			if !strings.Contains(stderr, c.stderrAll) {
				t.Errorf("stderr %q, want it to contain %q", stderr, c.stderrAll)
			}
		})
	}
}

// A port that another process holds: exit 1 with the key to change.
func TestServePortTakenAsProcess(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	port := ln.Addr().(*net.TCPAddr).Port
	node := fakeNodes(t, 1, 1)[0]
	cfg := filepath.Join(t.TempDir(), "evmgate.yaml")
	writeFile(t, cfg, "listen_addr: 127.0.0.1\nport: "+itoa(port)+"\nmetrics_port: -1\nnetworks:\n  - name: mainnet\n    local_nodes:\n      - rpc_endpoint: "+node.URL()+"\n")
	p := startProc(t, nil, "-config", cfg)
	select {
	case <-p.done:
	case <-time.After(time.Minute):
		t.Fatal("evmgate kept running on a port that is taken")
	}
	line := firstLine(p.stderr.String())
	if p.exitCode != 1 || !strings.Contains(line, "listening for JSON-RPC (listen_addr, port)") || !strings.Contains(line, "address already in use") {
		t.Fatalf("exit %d, first line %q", p.exitCode, line)
	}
}

func writeFile(t *testing.T, path, text string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
}

// `${VAR}` in the configuration: a variable that is not set stops validate
// (and the start) naming each one and its line, with the fix; set, the
// file is valid.
func TestConfigVariablesAsProcess(t *testing.T) {
	cfg := filepath.Join(t.TempDir(), "evmgate.yaml")
	writeFile(t, cfg, "port: ${GW_PORT}\nnetworks:\n  - name: mainnet\n    local_nodes:\n"+
		"      - rpc_endpoint: http://127.0.0.1:8545/${API_KEY}\n")
	code, _, stderr := runProc(t, "validate", "-config", cfg)
	if code != 1 || !strings.Contains(stderr, "environment variables GW_PORT (line 1), API_KEY (line 5) are not set (or are empty): export them, or give each a default") {
		t.Fatalf("validate with two variables unset: exit %d\n%s", code, stderr)
	}
	code, stdout, stderr := runProcEnv(t, []string{"GW_PORT=18545", "API_KEY=abc"}, "validate", "-config", cfg)
	if code != 0 || !strings.Contains(stdout, "is valid") {
		t.Fatalf("validate with the variables set: exit %d\n%s%s", code, stdout, stderr)
	}
}
