package main

import (
	"path/filepath"
	"strings"
	"testing"
)

// Files that the gateway could not build: evmgate validate refuses each
// with exit status 1, the key path and the fix, and serving refuses it
// with the same message, before listening. A secret is never printed.
func TestValidateRefusesWhatStartRefusesAsProcess(t *testing.T) {
	dir := t.TempDir()
	const secret = "s3cret-s3cret-s3cret"
	top := "listen_addr: 127.0.0.1\nport: " + itoa(freePort(t)) + "\nmetrics_port: -1\n"
	nodes := "networks:\n  - name: mainnet\n    local_nodes:\n" +
		"      - rpc_endpoint: http://127.0.0.1:38291\n        name: a\n"
	for _, c := range []struct{ name, yaml, want string }{
		{"node listed twice", top + nodes + "      - rpc_endpoint: http://127.0.0.1:38291\n        name: b\n",
			"networks[0].local_nodes[1].rpc_endpoint: http://127.0.0.1:38291 is also networks[0].local_nodes[0]: list each node once"},
		{"two keys with one secret", top + "access:\n  keys:\n    - {name: a, key: " + secret + "}\n    - {name: b, key: " + secret + "}\n" + nodes,
			`access.keys[1].key: the same secret as access.keys[0] (name "a"): give each key its own`},
		{"unknown default network", top + "admin:\n  default_network: base\n" + nodes,
			`admin.default_network: no network is named "base": use one of mainnet`},
		{"a deny list entry that matches nothing", top + nodes + "        methods: {deny: [\"eth_sendRawTransaction \"]}\n",
			`networks[0].local_nodes[0].methods.deny[0]: "eth_sendRawTransaction " is not a method`},
		{"a WebSocket queue bound too small", top + "websocket:\n  subscriber_buffer_bytes: 1000\n" + nodes,
			"websocket.subscriber_buffer_bytes: 1000 is too small: use at least 65536"},
		{"missing attestation roots", top + "attestation:\n  amd_roots: " + filepath.Join(dir, "missing.pem") + "\n" + nodes,
			"attestation.amd_roots: " + filepath.Join(dir, "missing.pem")},
	} {
		t.Run(c.name, func(t *testing.T) {
			cfg := filepath.Join(dir, strings.ReplaceAll(c.name, " ", "-")+".yaml")
			writeFile(t, cfg, c.yaml)
			code, stdout, stderr := runProc(t, "validate", "-config", cfg)
			if code != 1 || !strings.Contains(stderr, c.want) || strings.Contains(stdout, "is valid") {
				t.Errorf("validate: exit %d, want 1 and %q\nstdout: %s\nstderr: %s", code, c.want, stdout, stderr)
			}
			code, _, serveErr := runProc(t, "-config", cfg)
			if code != 1 || !strings.Contains(serveErr, c.want) {
				t.Errorf("serve: exit %d, want 1 and %q\nstderr: %s", code, c.want, serveErr)
			}
			if strings.Contains(stdout+stderr+serveErr, secret) {
				t.Errorf("the secret is printed:\n%s%s", stderr, serveErr)
			}
		})
	}
}
