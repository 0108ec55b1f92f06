package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/evmgate/evmgate/internal/certfile/certtest"
)

const oneNode = "networks:\n  - name: mainnet\n    local_nodes:\n      - rpc_endpoint: http://127.0.0.1:8545\n"

// TestWorkersInNodeURL: prio-load-balancer's ?_workers=N is read as the
// gateway reads it, and a bad one is reported under the node's key.
func TestWorkersInNodeURL(t *testing.T) {
	for _, tt := range []struct{ query, want string }{
		{"?_workers=abc", `networks[0].local_nodes[0].rpc_endpoint: _workers="abc" is not a number of workers: write a whole number of 1 or more, e.g. ?_workers=8`},
		{"?_workers=-5", `networks[0].local_nodes[0].rpc_endpoint: _workers="-5" is not a number of workers`},
		{"?_workers=0", `networks[0].local_nodes[0].rpc_endpoint: _workers="0" is not a number of workers`},
		{"?_workers=2&_workers=3", `networks[0].local_nodes[0].rpc_endpoint: _workers is given twice: keep one`},
	} {
		_, err := Parse([]byte(strings.Replace(oneNode, "8545", "8545"+tt.query, 1)), noEnv)
		if err == nil || !strings.Contains(err.Error(), tt.want) || strings.Contains(err.Error(), "sched:") {
			t.Errorf("%s: got %v, want %q", tt.query, err, tt.want)
		}
	}
	cfg, err := Parse([]byte(strings.Replace(oneNode, "8545", "8545/rpc?key=k&_workers=8", 1)), noEnv)
	if err != nil || cfg.Networks[0].LocalNodes[0].RPCEndpoint != "http://127.0.0.1:8545/rpc?key=k&_workers=8" {
		t.Fatalf("a good _workers: %v", err)
	}
	bad := Node{RPCEndpoint: "http://10.0.0.5:8545?_workers=many"}
	if err := bad.Check(); err == nil || !strings.Contains(err.Error(), `node.rpc_endpoint: _workers="many"`) {
		t.Errorf("a node added at run time: %v", err)
	}
}

// TestNamedFilesAreRead: the certificate, key and JWT key files are read
// when the file is checked, as at start, so `evmgate validate` refuses what
// starting would refuse, naming the key and the fix.
func TestNamedFilesAreRead(t *testing.T) {
	dir := t.TempDir()
	ca := certtest.NewCA(t, "validate ca")
	cert, key := ca.Server(t, "srv").Write(t, dir, "srv")
	caFile := filepath.Join(dir, "ca.pem")
	certtest.WriteFile(t, caFile, ca.CertPEM)
	jwtHex := filepath.Join(dir, "jwt.hex")
	secret := filepath.Join(dir, "hmac")
	for _, f := range []string{jwtHex, secret} {
		if err := os.WriteFile(f, []byte(strings.Repeat("ab", 32)), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	missing := filepath.Join(dir, "missing.pem")
	engine := "engine:\n  enabled: true\n  jwt_secret: " + jwtHex + "\n  nodes: [{url: 'http://127.0.0.1:8551'}]\n"
	tls := func(c, k string) string { return "{cert_file: " + c + ", key_file: " + k + "}" }
	fix := " does not exist: check the path (relative paths start at the working directory)"
	for _, tt := range []struct{ name, yaml, want string }{
		{"tls cert", "tls: " + tls(missing, key) + "\n" + oneNode, "tls.cert_file: " + missing + fix},
		{"tls key", "tls: " + tls(cert, missing) + "\n" + oneNode, "tls.key_file: " + missing + fix},
		{"tls key of another cert", "tls: " + tls(cert, cert) + "\n" + oneNode, "tls.key_file: " + cert + " holds no PEM private key"},
		{"admin tls", "admin:\n  listen: 127.0.0.1:9102\n  tls: " + tls(missing, key) + "\n" + oneNode, "admin.tls.cert_file: " + missing + fix},
		{"admin client ca", "admin:\n  listen: 127.0.0.1:9102\n  tls: {cert_file: " + cert + ", key_file: " + key + ", client_ca_file: " + missing + "}\n" + oneNode,
			"admin.tls.client_ca_file: " + missing + fix},
		{"engine tls", engine + "  tls: " + tls(cert, missing) + "\n", "engine.tls.key_file: " + missing + fix},
		{"jwks", "access:\n  jwt:\n    jwks_file: " + missing + "\n" + oneNode, "access.jwt.jwks_file: " + missing + fix},
		{"hmac", "access:\n  jwt:\n    hmac_secret_file: " + missing + "\n" + oneNode, "access.jwt.hmac_secret_file: " + missing + fix},
		{"public key", "access:\n  jwt:\n    public_key_files: [" + secret + ", " + missing + "]\n" + oneNode, "access.jwt.public_key_files[0]: no PEM block"},
		{"second public key", "access:\n  jwt:\n    hmac_secret_file: " + secret + "\n    public_key_files: [" + missing + "]\n" + oneNode,
			"access.jwt.public_key_files[0]: " + missing + fix},
	} {
		_, err := Parse([]byte(tt.yaml), noEnv)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: got %v, want %q", tt.name, err, tt.want)
		}
	}
	for _, tt := range []struct{ name, yaml string }{
		{"tls", "tls: " + tls(cert, key) + "\n" + oneNode},
		{"admin mutual tls", "admin:\n  listen: 127.0.0.1:9102\n  tls: {cert_file: " + cert + ", key_file: " + key + ", client_ca_file: " + caFile + "}\n" + oneNode},
		{"engine tls", engine + "  tls: " + tls(cert, key) + "\n"},
		{"hmac", "access:\n  jwt:\n    hmac_secret_file: " + secret + "\n" + oneNode},
		// Not served, so not read at start either.
		{"admin tls without the admin listener", "admin:\n  tls: " + tls(missing, missing) + "\n" + oneNode},
		{"engine tls with the engine off", "engine:\n  tls: " + tls(missing, missing) + "\n" + oneNode},
	} {
		if _, err := Parse([]byte(tt.yaml), noEnv); err != nil {
			t.Errorf("%s: %v", tt.name, err)
		}
	}
}
