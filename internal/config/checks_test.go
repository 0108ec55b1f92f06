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

// TestHTTPOverWSNeedsWSEndpoint: http_over_ws without the WebSocket it
// would use is refused, not ignored.
func TestHTTPOverWSNeedsWSEndpoint(t *testing.T) {
	_, err := Parse([]byte(oneNode+"        http_over_ws: true\n"), noEnv)
	want := "networks[0].local_nodes[0].http_over_ws: needs the node's ws_endpoint"
	if err == nil || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), "set ws_endpoint (e.g. ws://10.0.0.5:8546), or remove http_over_ws") {
		t.Errorf("got %v, want %q and the fix", err, want)
	}
	if _, err := Parse([]byte(oneNode+"        http_over_ws: true\n        ws_endpoint: ws://127.0.0.1:8546\n"), noEnv); err != nil {
		t.Errorf("with ws_endpoint: %v", err)
	}
	if _, err := Parse([]byte(oneNode+"        http_over_ws: false\n"), noEnv); err != nil {
		t.Errorf("http_over_ws: false: %v", err)
	}
}

// TestInheritedValueReportedOnce: a bad value that networks and nodes
// inherit is reported at the key the user wrote, once.
func TestInheritedValueReportedOnce(t *testing.T) {
	for _, tt := range []struct {
		name, yaml, want string
		not              []string
	}{
		{"strategy", "strategy: random\n" + oneNode, `strategy: "random" is unknown`, []string{"networks[0].strategy"}},
		{"max_concurrency", "max_concurrency: -3\n" + oneNode, "max_concurrency: must be 0 (unlimited) or more",
			[]string{"networks[0].max_concurrency", "local_nodes[0].max_concurrency"}},
		{"network max_concurrency", oneNode + "    max_concurrency: -3\n", "networks[0].max_concurrency: must be 0",
			[]string{"local_nodes[0].max_concurrency"}},
		{"local_poll_interval", oneNode + "    local_poll_interval: 1ms\n", "networks[0].local_poll_interval: 1ms is too short",
			[]string{"monitoring_poll_interval"}},
	} {
		_, err := Parse([]byte(tt.yaml), noEnv)
		if err == nil || strings.Count(err.Error(), tt.want) != 1 {
			t.Errorf("%s: got %v, want %q once", tt.name, err, tt.want)
			continue
		}
		for _, n := range tt.not {
			if strings.Contains(err.Error(), n) {
				t.Errorf("%s: %q reported at %s, a key the file does not hold: %v", tt.name, tt.want, n, err)
			}
		}
	}
	// Written at both levels, each is still reported where written.
	_, err := Parse([]byte("strategy: random\n"+oneNode+"    strategy: fastest\n"), noEnv)
	if err == nil || !strings.Contains(err.Error(), `strategy: "random"`) || !strings.Contains(err.Error(), `networks[0].strategy: "fastest"`) {
		t.Errorf("both: %v", err)
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

// TestWrongTypes: a value of the wrong kind is named by its line and key,
// with what was expected and how to write it.
func TestWrongTypes(t *testing.T) {
	for _, tt := range []struct{ name, yaml, want string }{
		{"bytes", "port: 8080\nlisten_addr: 127.0.0.1\nmax_body_bytes: 8MB\n" + oneNode,
			`line 3: max_body_bytes: "8MB" is not a whole number: write bytes as a number, e.g. 8388608`},
		{"fraction", "max_body_bytes: 1.5\n" + oneNode, `line 1: max_body_bytes: "1.5" is not a whole number`},
		{"quoted number", "max_body_bytes: \"8388608\"\n" + oneNode, `line 1: max_body_bytes: "8388608" is not a whole number: write it without quotes, max_body_bytes: 8388608`},
		{"quoted decimal", "tracing:\n  sample_rate: \"0.5\"\n" + oneNode, `line 2: tracing.sample_rate: "0.5" is not a number: write it without quotes, sample_rate: 0.5`},
		{"quoted unsigned", oneNode + "    chain_id: '1'\n", `line 5: networks[0].chain_id: "1" is not a whole number of 0 or more: write it without quotes, chain_id: 1`},
		{"too large", "max_body_bytes: 99999999999999999999\n" + oneNode, `line 1: max_body_bytes: "99999999999999999999" is not a whole number this key can hold: write a smaller one`},
		{"networks as a map", "networks:\n  name: mainnet\n  local_nodes: []\n",
			`line 2: networks: is a section of keys, not a list: write each entry on a line starting with "- "`},
		{"bool", oneNode + "        archive: maybe\n",
			`line 5: networks[0].local_nodes[0].archive: "maybe" is not true or false: write true (on) or false (off)`},
		{"bool of two words", oneNode + "    rest_api: yes please\n", `line 5: networks[0].rest_api: "yes please" is not true or false`},
		{"negative unsigned", oneNode + "    chain_id: -1\n", `line 5: networks[0].chain_id: "-1" is not a whole number of 0 or more`},
		{"number with its default", oneNode + "    rpc_retries: many\n", `line 5: networks[0].rpc_retries: "many" is not a whole number: write a whole number, e.g. 2`},
		{"list as text", oneNode + "    load_balance_priority: latency\n",
			`line 5: networks[0].load_balance_priority: "latency" is not a list: write each entry on a line starting with "- "`},
		{"section as text", oneNode + "    hedge: yes\n", `line 5: networks[0].hedge: "yes" is not a section of keys: write each of its keys on its own line below hedge:, indented`},
		{"text as a list", "tls:\n  cert_file: [a, b]\n" + oneNode, `line 2: tls.cert_file: is a list, not a single value`},
		{"map value", "access:\n  costs: {eth_call: lots}\n" + oneNode, `line 2: access.costs.eth_call: "lots" is not a whole number`},
		{"duration", oneNode + "    rpc_timeout: soon\n", `line 5: networks[0].rpc_timeout: "soon" is not a duration: write it like "500ms", "2s" or "1m"`},
		{"port", "port: 70000\n" + oneNode, `line 1: port: "70000" is not a port: use a number from 1 to 65535`},
		{"top level", "- a\n", `line 1: the top level: is a list, not a section of keys`},
	} {
		_, err := Parse([]byte(tt.yaml), noEnv)
		if err == nil || !strings.Contains(err.Error(), tt.want) || strings.Contains(err.Error(), "cannot unmarshal") {
			t.Errorf("%s: got %v\nwant %q", tt.name, err, tt.want)
		}
	}
	// Several on one line (a flow mapping) are each named.
	_, err := Parse([]byte("networks: [{name: m, local_nodes: [{rpc_endpoint: 'http://a:1', archive: maybe, weight: x}]}]\n"), noEnv)
	for _, w := range []string{`line 1: networks[0].local_nodes[0].archive: "maybe"`, `line 1: networks[0].local_nodes[0].weight: "x" is not a whole number`} {
		if err == nil || !strings.Contains(err.Error(), w) {
			t.Errorf("flow mapping: got %v, want %q", err, w)
		}
	}
	// Values decoding accepts stay accepted.
	cfg, err := Parse([]byte("max_body_bytes: 1e6\nport: \"8081\"\nlog_requests: false\n"+oneNode+"    chain_id: 0x1\n    cache:\n    paths: []\n"), noEnv)
	if err != nil || cfg.MaxBodyBytes != 1e6 || cfg.Port != 8081 || cfg.Networks[0].ChainID != 1 {
		t.Errorf("accepted forms: %v %+v", err, cfg)
	}
}
