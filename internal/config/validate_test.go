package config

import (
	"crypto/sha256"
	"encoding/hex"
	"path/filepath"
	"strings"
	"testing"
)

// TestValidation: each invalid value is reported under its key path, with
// the fix.
func TestValidation(t *testing.T) {
	node := func(url string) string { return "      - rpc_endpoint: " + url + "\n" }
	net := func(name, extra string, nodes ...string) string {
		s := "  - name: " + name + "\n" + extra + "    local_nodes:\n"
		for _, n := range nodes {
			s += node(n)
		}
		return s
	}
	ok := "http://127.0.0.1:8545"
	tests := []struct {
		name string
		yaml string
		want []string // substrings of the error; the first is the key path
	}{
		{"bad second endpoint", "networks:\n" + net("mainnet", "", ok, "localhost:8546"),
			[]string{"networks[0].local_nodes[1].rpc_endpoint", `"localhost:8546" has no scheme`, "http://"}},
		{"not http", "networks:\n" + net("mainnet", "", "ftp://10.0.0.5/x"),
			[]string{"networks[0].local_nodes[0].rpc_endpoint", "is not an http(s) URL", "write it like http://"}},
		{"missing endpoint", "networks:\n  - name: m\n    fallback_nodes:\n      - name: x\n",
			[]string{"networks[0].fallback_nodes[0].rpc_endpoint", "is required"}},
		{"no networks", "port: 8080\n", []string{"networks", "add one with a name and local_nodes"}},
		{"no nodes", "networks:\n  - name: m\n", []string{"networks[0].local_nodes", "list at least one rpc_endpoint"}},
		{"no name", "networks:\n" + net(`""`, "", ok), []string{"networks[0].name", "is required"}},
		{"duplicate network", "networks:\n" + net("mainnet", "", ok) + net("base", "", "http://10.0.0.9:8545") + net("mainnet", "", "http://10.0.0.8:8545"),
			[]string{"networks[2].name", `"mainnet" is also the name of networks[0]`, "unique name"}},
		{"path-unsafe name", "networks:\n" + net("main/net", "", ok), []string{"networks[0].name", "cannot be a URL path segment"}},
		{"duplicate node", "networks:\n  - name: m\n    local_nodes:\n" + node(ok) + "    fallback_nodes:\n" + node(ok),
			[]string{"networks[0].fallback_nodes[0].rpc_endpoint", "http://127.0.0.1:8545 is also networks[0].local_nodes[0]", "list each node once"}},
		{"duplicate node name", "networks:\n  - name: m\n    local_nodes:\n" + node(ok) + "        name: a\n    fallback_nodes:\n" + node("http://10.0.0.5:8545") + "        name: a\n",
			[]string{"networks[0].fallback_nodes[0]", `node "a" is listed twice (also at networks[0].local_nodes[0])`, "distinct name"}},
		{"tls without key", "tls:\n  cert_file: a.crt\nnetworks:\n" + net("m", "", ok), []string{"tls.key_file", "missing", "remove tls"}},
		{"client CA on rpc", "tls: {cert_file: a, key_file: b, client_ca_file: c}\nnetworks:\n" + net("m", "", ok), []string{"tls.client_ca_file", "admin API only"}},
		{"admin CA without TLS", "admin:\n  listen: 127.0.0.1:9102\n  tls: {client_ca_file: c}\nnetworks:\n" + net("m", "", ok), []string{"admin.tls.client_ca_file", "needs admin.tls.cert_file"}},
		{"engine tls without cert", "engine:\n  enabled: true\n  jwt_secret: j\n  nodes: [{url: 'http://127.0.0.1:8551'}]\n  tls: {key_file: k}\n", []string{"engine.tls.cert_file", "missing"}},
		{"max connections", "limits:\n  max_connections: -5\nnetworks:\n" + net("m", "", ok), []string{"limits.max_connections", "-1 for no limit"}},
		{"per ip over total", "limits:\n  max_connections: 10\n  max_connections_per_ip: 20\nnetworks:\n" + net("m", "", ok), []string{"limits.max_connections_per_ip", "more than limits.max_connections"}},
		{"header bytes", "limits:\n  max_header_bytes: 100\nnetworks:\n" + net("m", "", ok), []string{"limits.max_header_bytes", "at least 4096"}},
		{"header timeout", "limits:\n  read_header_timeout: 1ms\nnetworks:\n" + net("m", "", ok), []string{"limits.read_header_timeout", "too short"}},
		{"unknown strategy", "strategy: fastest\nnetworks:\n" + net("m", "", ok), []string{"strategy", `"fastest" is unknown`, "p2c, least_conn, round_robin, best"}},
		{"network strategy", "networks:\n" + net("m", "    strategy: random\n", ok), []string{"networks[0].strategy", "p2c"}},
		{"priority", "networks:\n" + net("m", "    load_balance_priority: [speed]\n", ok), []string{"networks[0].load_balance_priority", `"speed" is unknown`, "chainhead, latency or load"}},
		{"load period", "networks:\n" + net("m", "    load_period: 2\n", ok), []string{"networks[0].load_period", "use 1, 5 or 15"}},
		{"negative retries", "networks:\n" + net("m", "    rpc_retries: -1\n", ok), []string{"networks[0].rpc_retries", "0 or more"}},
		{"poll too short", "networks:\n" + net("m", "    local_poll_interval: 1ms\n", ok), []string{"networks[0].local_poll_interval", "10ms or more"}},
		{"negative monitoring poll", "networks:\n" + net("m", "    monitoring_poll_interval: -1s\n", ok), []string{"networks[0].monitoring_poll_interval", "10ms or more"}},
		{"negative timeout", "networks:\n" + net("m", "    rpc_timeout: -5s\n", ok), []string{"networks[0].rpc_timeout", "1ms or more"}},
		{"shared rate limit without redis", "networks:\n" + net("m", "", ok) + "        rate_limit: {rate: 5, shared: true}\n",
			[]string{"networks[0].local_nodes[0].rate_limit.shared", "needs Redis", "set redis_url (or admin.redis_url), or remove shared"}},
		{"shared without rate", "redis_url: redis://127.0.0.1:6379/0\nnetworks:\n" + net("m", "", ok) + "        rate_limit: {shared: true}\n",
			[]string{"networks[0].local_nodes[0].rate_limit.shared", "without rate"}},
		{"negative block age", "networks:\n" + net("m", "    max_block_age: -1s\n", ok), []string{"networks[0].max_block_age", "0 to turn the check off"}},
		{"down after", "networks:\n" + net("m", "    down_after: -2\n", ok), []string{"networks[0].down_after", "at least 1"}},
		{"logs concurrency", "networks:\n" + net("m", "    logs_split_concurrency: 65\n", ok), []string{"networks[0].logs_split_concurrency", "use 1 to 64"}},
		{"logs chunk over range", "networks:\n" + net("m", "    max_logs_block_range: 500\n    logs_chunk_blocks: 1000\n", ok),
			[]string{"networks[0].logs_chunk_blocks", "over max_logs_block_range (500)", "lower logs_chunk_blocks"}},
		{"cache redis url", "cache:\n  redis_url: http://127.0.0.1:6379\nnetworks:\n" + net("m", "", ok), []string{"cache.redis_url", "redis://host:port/db"}},
		{"cache redis ttl", "cache:\n  redis_ttl: 10ms\nnetworks:\n" + net("m", "", ok), []string{"cache.redis_ttl", "1s or more"}},
		{"cache redis cap", "cache:\n  redis_max_bytes: 1000\nnetworks:\n" + net("m", "", ok), []string{"cache.redis_max_bytes", "at least 1048576"}},
		{"log level", "log_level: LOUD\nnetworks:\n" + net("m", "", ok), []string{"log_level", "ERROR, WARN, INFO, DEBUG or TRACE"}},
		{"log format", "log_format: xml\nnetworks:\n" + net("m", "", ok), []string{"log_format", "text or json"}},
		{"body limit", "max_body_bytes: 10\nnetworks:\n" + net("m", "", ok), []string{"max_body_bytes", "at least 1024"}},
		{"batch limit", "max_batch_size: -1\nnetworks:\n" + net("m", "", ok), []string{"max_batch_size", "at least 1"}},
		{"request timeout", "request_timeout: -1s\nnetworks:\n" + net("m", "", ok), []string{"request_timeout", "1ms or more"}},
		{"port -1", "port: -1\nnetworks:\n" + net("m", "", ok), []string{"port", "from 1 to 65535"}},
		{"metrics on the rpc port", "port: 9000\nmetrics_port: 9000\nnetworks:\n" + net("m", "", ok), []string{"metrics_port", "its own port"}},
		{"scheduler", "scheduler:\n  max_queued_high: -1\n  low_share: 1\nnetworks:\n" + net("m", "", ok),
			[]string{"scheduler.max_queued_high", "scheduler.low_share", "-1 (off)"}},
		{"weight", "networks:\n  - name: m\n    local_nodes:\n" + node(ok) + "        weight: -3\n", []string{"networks[0].local_nodes[0].weight", "1 or more"}},
		{"ws endpoint", "networks:\n  - name: m\n    local_nodes:\n" + node(ok) + "        ws_endpoint: http://x:8546\n", []string{"networks[0].local_nodes[0].ws_endpoint", "ws://"}},
		{"header name", "networks:\n  - name: m\n    local_nodes:\n" + node(ok) + "        headers: {\"X Key\": v}\n", []string{"networks[0].local_nodes[0].headers", `"X Key" is not an HTTP header name`}},
		{"compression min bytes", "response_compression:\n  min_bytes: -1\nnetworks:\n" + net("m", "", ok),
			[]string{"response_compression.min_bytes", "-1 is negative", "0 to compress every answer"}},
		{"header value", "networks:\n  - name: m\n    local_nodes:\n" + node(ok) + "        headers: {X-Key: \"a\\nb\"}\n", []string{"networks[0].local_nodes[0].headers.X-Key", "one line"}},
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
			if !strings.Contains(err.Error(), tt.want[0]+":") {
				t.Errorf("error %q does not name the key path %s", err, tt.want[0])
			}
		})
	}
}

// TestReservedNetworkNames: the gateway's own paths cannot name a network.
func TestReservedNetworkNames(t *testing.T) {
	for _, name := range append(ReservedNetworkNames, "Status", "METRICS") {
		t.Run(name, func(t *testing.T) {
			yaml := "networks:\n  - name: mainnet\n    local_nodes: [{rpc_endpoint: http://a:1}]\n" +
				"  - name: " + name + "\n    local_nodes: [{rpc_endpoint: http://b:1}]\n"
			_, err := Parse([]byte(yaml), noEnv)
			if err == nil {
				t.Fatal("Parse succeeded")
			}
			want := "networks[1].name: \"" + name + "\" is reserved: the gateway serves /" + strings.ToLower(name) + " itself"
			if !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), "rename the network") {
				t.Errorf("got %q, want it to contain %q", err, want)
			}
		})
	}
	for _, name := range []string{"healthy", "status-net", "nodes2", "adminnet"} {
		yaml := "networks:\n  - name: " + name + "\n    local_nodes: [{rpc_endpoint: http://a:1}]\n"
		if _, err := Parse([]byte(yaml), noEnv); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
}

// TestValidationOrder: problems are listed in a stable order, so the same
// file always gives the same message.
func TestValidationOrder(t *testing.T) {
	yaml := "scheduler: {max_queued_fast_track: -1, max_queued_high: -1, max_queued_low: -1}\nnetworks:\n  - name: m\n" +
		"    local_nodes: [{rpc_endpoint: http://a:1}]\n    monitoring_nodes: [{rpc_endpoint: http://a:1}]\n" +
		"    fallback_nodes: [{rpc_endpoint: http://a:1}]\n"
	_, first := Parse([]byte(yaml), noEnv)
	if first == nil {
		t.Fatal("Parse succeeded")
	}
	for range 20 {
		if _, err := Parse([]byte(yaml), noEnv); err.Error() != first.Error() {
			t.Fatalf("messages differ:\n%s\n%s", first, err)
		}
	}
	for _, w := range []string{"scheduler.max_queued_fast_track", "networks[0].monitoring_nodes[0].rpc_endpoint: http://a:1 is also networks[0].local_nodes[0]: list each node once"} {
		if !strings.Contains(first.Error(), w) {
			t.Errorf("%q not in %q", w, first)
		}
	}
}

// TestSecretsStayOutOfErrors: a validation message about a node shows its
// redacted URL, never its key.
func TestSecretsStayOutOfErrors(t *testing.T) {
	yaml := "networks:\n  - name: m\n    local_nodes:\n      - rpc_endpoint: ftp://u:pw@h/0123456789abcdef0123456789abcdef?key=zzz\n" +
		"      - rpc_endpoint: h.example/0123456789abcdef0123456789abcdef?key=zzz\n"
	_, err := Parse([]byte(yaml), noEnv)
	if err == nil {
		t.Fatal("Parse succeeded")
	}
	for _, leak := range []string{"pw", "0123456789abcdef0123", "zzz"} {
		if strings.Contains(err.Error(), leak) {
			t.Errorf("error shows %q: %s", leak, err)
		}
	}
}

func TestDisplayName(t *testing.T) {
	if got := (&Node{Name: "geth-1", RPCEndpoint: "http://a:1"}).DisplayName(); got != "geth-1" {
		t.Errorf("named: %q", got)
	}
	if got := (&Node{RPCEndpoint: "http://u:p@a:1/?k=v"}).DisplayName(); got != "http://a:1" {
		t.Errorf("unnamed: %q", got)
	}
}

// TestValidationRefusesWhatBuildingRefuses: what the node registry, the
// access checks and the attestation verifier would refuse at start or on
// reload is refused by validation, under its key path and with the fix.
func TestValidationRefusesWhatBuildingRefuses(t *testing.T) {
	const secret = "s3cret-s3cret-s3cret"
	hash := sha256.Sum256([]byte(secret))
	missing := filepath.Join(t.TempDir(), "missing.pem")
	tests := []struct {
		name, yaml, want string
		leak             string // must not be in the error
	}{
		{"same url, two names", "networks:\n  - name: m\n    local_nodes:\n" +
			"      - {rpc_endpoint: http://127.0.0.1:8545, name: a}\n      - {rpc_endpoint: http://127.0.0.1:8545, name: b}\n",
			"networks[0].local_nodes[1].rpc_endpoint: http://127.0.0.1:8545 is also networks[0].local_nodes[0]: list each node once", ""},
		{"same url in two tiers", "networks:\n  - name: m\n    local_nodes:\n      - {rpc_endpoint: http://127.0.0.1:8545, name: a}\n" +
			"  - name: n\n    local_nodes:\n      - {rpc_endpoint: http://u:pw@10.0.0.1:8545/0123456789abcdef0123, name: a}\n" +
			"    fallback_nodes:\n      - {rpc_endpoint: http://u:pw@10.0.0.1:8545/0123456789abcdef0123, name: b}\n",
			"networks[1].fallback_nodes[0].rpc_endpoint: http://10.0.0.1:8545/0123… is also networks[1].local_nodes[0]: list each node once", "456789abcdef"},
		{"same secret", "access:\n  keys:\n    - {name: a, key: " + secret + "}\n    - {name: b, key: " + secret + "}\n" + oneNode,
			`access.keys[1].key: the same secret as access.keys[0] (name "a"): give each key its own`, secret},
		{"same secret as a hash", "access:\n  keys:\n    - {name: a, key: " + secret + "}\n    - {name: b, key_sha256: " + strings.ToUpper(hex.EncodeToString(hash[:])) + "}\n" + oneNode,
			`access.keys[1].key_sha256: the same secret as access.keys[0] (name "a"): give each key its own`, secret},
		{"default network", "admin:\n  default_network: base\n" + oneNode,
			`admin.default_network: no network is named "base": use one of mainnet`, ""},
		{"attestation roots file", "attestation:\n  amd_roots: " + missing + "\n" + oneNode,
			"attestation.amd_roots: " + missing, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse([]byte(tt.yaml), noEnv)
			if err == nil {
				t.Fatal("Parse succeeded")
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q does not contain %q", err, tt.want)
			}
			if tt.leak != "" && strings.Contains(err.Error(), tt.leak) {
				t.Errorf("error shows %q: %s", tt.leak, err)
			}
			if strings.Count(err.Error(), "\n  ") != 1 {
				t.Errorf("want one problem, got %q", err)
			}
		})
	}
	// The same URL in two networks, and a default_network that is served,
	// are fine.
	ok := "admin:\n  default_network: n\nnetworks:\n  - name: m\n    local_nodes: [{rpc_endpoint: http://a:1}]\n" +
		"  - name: n\n    local_nodes: [{rpc_endpoint: http://a:1}]\n"
	if _, err := Parse([]byte(ok), noEnv); err != nil {
		t.Errorf("one URL in two networks: %v", err)
	}
}
