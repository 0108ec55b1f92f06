package config

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/evmgate/evmgate/internal/certfile/certtest"
)

const reloadBase = `
port: 8080
metrics_port: 9101
log_level: INFO
redis_url: redis://127.0.0.1:6379/0
admin:
  listen: 127.0.0.1:9102
websocket:
  max_connections: 100
networks:
  - name: mainnet
    local_nodes:
      - rpc_endpoint: http://10.0.0.1:8545
`

func mustParse(t *testing.T, text string) *Config {
	t.Helper()
	cfg, err := Parse([]byte(text), noEnv)
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// TestReloadable: settings a reload can change come through; those that
// need a restart keep their old values and are named by key path.
func TestReloadable(t *testing.T) {
	old := mustParse(t, reloadBase)
	next := mustParse(t, `
port: 8081
metrics_port: 9101
log_level: DEBUG
log_format: json
shutdown_grace: 10s
redis_url: redis://127.0.0.1:6380/0
admin:
  listen: 127.0.0.1:9103
websocket:
  max_connections: 200
networks:
  - name: mainnet
    strategy: round_robin
    local_nodes:
      - rpc_endpoint: http://10.0.0.1:8545
        weight: 3
  - name: base
    local_nodes:
      - rpc_endpoint: http://10.0.0.9:8545
`)
	got, keys := Reloadable(old, next)
	want := []string{"port", "log_format", "redis_url", "admin.listen", "websocket.max_connections"}
	if !slices.Equal(keys, want) {
		t.Fatalf("restart keys %v, want %v", keys, want)
	}
	if got.Port != 8080 || got.LogFormat != "text" || got.Admin.AdminListen != "127.0.0.1:9102" ||
		got.Admin.RedisURL != "redis://127.0.0.1:6379/0" || got.RedisURL != old.RedisURL || got.WebSocket.MaxConnections != 100 {
		t.Fatalf("restart-only settings changed: %+v", got)
	}
	if got.LogLevel != "DEBUG" || got.ShutdownGrace.D() != 10*time.Second || len(got.Networks) != 2 ||
		got.Networks[0].Strategy != "round_robin" || got.Networks[0].LocalNodes[0].Weight != 3 {
		t.Fatalf("reloadable settings not taken: %+v", got)
	}
	if next.Port != 8081 {
		t.Fatal("Reloadable changed its argument")
	}
	if _, keys := Reloadable(old, mustParse(t, reloadBase)); len(keys) != 0 {
		t.Fatalf("the same file needs a restart for %v", keys)
	}
}

// TestReloadableListenerSections: tls and limits keys need a restart and
// are named one by one.
func TestReloadableListenerSections(t *testing.T) {
	old := mustParse(t, reloadBase)
	certFile, keyFile := certtest.NewCA(t, "reload ca").Server(t, "reload").Write(t, t.TempDir(), "srv")
	next := mustParse(t, reloadBase+"tls:\n  cert_file: "+certFile+"\n  key_file: "+keyFile+"\nlimits:\n  max_connections_per_ip: 64\n")
	out, keys := Reloadable(old, next)
	want := []string{"tls.cert_file", "tls.key_file", "limits.max_connections_per_ip"}
	if !slices.Equal(keys, want) {
		t.Fatalf("keys %v, want %v", keys, want)
	}
	if out.TLS != old.TLS || out.Limits != old.Limits {
		t.Fatalf("restart-only sections changed: %+v %+v", out.TLS, out.Limits)
	}
}

// TestReloadableAttestation: the attestation section needs a restart (the
// verifier is built once): its changed keys are named and the running
// values kept.
func TestReloadableAttestation(t *testing.T) {
	old := mustParse(t, reloadBase)
	next := mustParse(t, reloadBase+"attestation:\n  offline: true\n  collateral_dir: /var/lib/evmgate/collateral\n")
	out, keys := Reloadable(old, next)
	want := []string{"attestation.collateral_dir", "attestation.offline"}
	if !slices.Equal(keys, want) {
		t.Fatalf("keys %v, want %v", keys, want)
	}
	if out.Attestation.Offline || out.Attestation.CollateralDir != "" {
		t.Fatalf("attestation changed: %+v", out.Attestation)
	}
}

// TestReloadableNamesOnlyWrittenKeys: a key that defaults to another one
// is not named when only that other one changed.
func TestReloadableNamesOnlyWrittenKeys(t *testing.T) {
	for _, tt := range []struct {
		name, old, next string
		want            []string
		metricsAddr     string // the metrics listener's host after the reload
	}{
		{"listen_addr alone", "listen_addr: 127.0.0.1\n", "listen_addr: 127.0.0.2\n", []string{"listen_addr"}, "127.0.0.1"},
		{"metrics_addr written", "listen_addr: 127.0.0.1\n", "listen_addr: 127.0.0.1\nmetrics_addr: 127.0.0.2\n", []string{"metrics_addr"}, "127.0.0.1"},
		{"both written", "listen_addr: 127.0.0.1\n", "listen_addr: 127.0.0.2\nmetrics_addr: 127.0.0.2\n", []string{"listen_addr", "metrics_addr"}, "127.0.0.1"},
		{"metrics_addr removed", "listen_addr: 127.0.0.1\nmetrics_addr: 127.0.0.3\n", "listen_addr: 127.0.0.1\n", []string{"metrics_addr"}, "127.0.0.3"},
		{"written as it was", "listen_addr: 127.0.0.1\n", "listen_addr: 127.0.0.1\nmetrics_addr: 127.0.0.1\n", nil, "127.0.0.1"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			out, keys := Reloadable(mustParse(t, tt.old+reloadBase), mustParse(t, tt.next+reloadBase))
			if !slices.Equal(keys, tt.want) {
				t.Errorf("keys %v, want %v", keys, tt.want)
			}
			if out.MetricsAddr != tt.metricsAddr || out.ListenAddr != "127.0.0.1" {
				t.Errorf("listeners changed: listen_addr %q, metrics_addr %q", out.ListenAddr, out.MetricsAddr)
			}
		})
	}
}

// Changed names what a reload changes by key path, at the level of a
// section's key and a network's key, and nothing for the same file.
func TestChanged(t *testing.T) {
	for _, path := range []string{"testdata/stakesquid-example.yaml", "testdata/stakesquid-minimal.yaml"} {
		a, errA := LoadReload(path)
		b, errB := LoadReload(path)
		if errA != nil || errB != nil {
			t.Fatalf("%s: %v %v", path, errA, errB)
		}
		if got := Changed(a, b); len(got) != 0 {
			t.Errorf("%s read twice: changed %v", path, got)
		}
	}
	old := mustParse(t, reloadBase)
	next := mustParse(t, `
port: 8080
metrics_port: 9101
log_level: DEBUG
redis_url: redis://127.0.0.1:6379/0
admin:
  listen: 127.0.0.1:9102
websocket:
  max_connections: 100
scheduler:
  max_queued_low: 5000
response_compression:
  min_bytes: 10
access:
  keys:
    - name: k
      key: the-secret-value
networks:
  - name: mainnet
    local_nodes:
      - rpc_endpoint: http://10.0.0.2:8545
  - name: extra
    local_nodes:
      - rpc_endpoint: http://10.0.0.3:8545
`)
	want := []string{"log_level", "scheduler.max_queued_low", "networks.mainnet.local_nodes", "networks.extra",
		"access.keys", "response_compression.min_bytes"}
	if got := Changed(old, next); !slices.Equal(got, want) {
		t.Errorf("changed %v, want %v", got, want)
	}
	if got := Changed(next, old); !slices.Contains(got, "networks.extra") || !slices.Contains(got, "access.keys") {
		t.Errorf("back: changed %v, want the removed network and the keys named", got)
	}
}

// A top-level key the networks and nodes inherit is named once, as itself;
// a redis_url kept for a restart is not named as applied either.
func TestChangedNamesInheritedKeysOnce(t *testing.T) {
	old := mustParse(t, reloadBase)
	for _, c := range []struct {
		add  string
		want []string
	}{
		{"max_concurrency: 7\n", []string{"max_concurrency"}},
		{"strategy: least_conn\n", []string{"strategy"}},
	} {
		next := mustParse(t, c.add+reloadBase)
		applied, _ := Reloadable(old, next)
		if got := Changed(old, applied); !slices.Equal(got, c.want) {
			t.Errorf("%q: changed %v, want %v", c.add, got, c.want)
		}
	}
	next := mustParse(t, strings.Replace(reloadBase, "6379/0", "6379/1", 1))
	applied, restart := Reloadable(old, next)
	if got := Changed(old, applied); len(got) != 0 || !slices.Equal(restart, []string{"redis_url"}) {
		t.Errorf("redis_url changed: applied %v (want none), restart %v", got, restart)
	}
}
