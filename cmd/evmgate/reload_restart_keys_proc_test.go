package main

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/evmgate/evmgate/internal/attest/attesttest"
)

// The restart warning names exactly the keys the file changed: not
// metrics_addr when only listen_addr (which it follows) changed, and the
// attestation keys, whose verifier is built once. The running listeners
// keep serving.
func TestReloadRestartWarningNamesWrittenKeysAsProcess(t *testing.T) {
	f := fakeNodes(t, 1, 1)
	rpcPort, metricsPort := freePort(t), freePort(t)
	ports := "port: " + itoa(rpcPort) + "\nmetrics_port: " + itoa(metricsPort) + "\n"
	nets := "networks:\n  - name: mainnet\n" + fakeNodesYAML("local_nodes", "", f[0])
	path := filepath.Join(t.TempDir(), "evmgate.yaml")
	writeFile(t, path, "listen_addr: 127.0.0.1\n"+ports+nets)
	p := startProc(t, nil, "-config", path)
	p.waitOutput(p.stderr, "gateway started", 2*time.Minute)

	// 127.0.0.2 is never listened on: the listener needs a restart.
	writeFile(t, path, "listen_addr: 127.0.0.2\n"+ports+"attestation:\n  cache_ttl: 2h\n"+nets)
	p.signal(syscall.SIGHUP)
	text := p.waitOutput(p.stderr, "only a restart applies", time.Minute)
	if line := grepLines(text, "only a restart applies"); !strings.Contains(line, `keys="listen_addr, attestation.cache_ttl"`) {
		t.Fatalf("the restart warning, want keys=\"listen_addr, attestation.cache_ttl\":\n%s", line)
	}
	if code, body := rpc(t, "http://"+addr(rpcPort)+"/mainnet", clientVersion); code != 200 {
		t.Errorf("the JSON-RPC listener after the reload: %d %s", code, body)
	}
	if code, _ := get(t, "http://"+addr(metricsPort)+"/metrics"); code != 200 {
		t.Errorf("the metrics listener after the reload: %d", code)
	}
	if code, took := p.terminate(time.Minute); code != 0 {
		t.Fatalf("exit %d after SIGTERM (%v)", code, took)
	}
}

// The attestation root files are read once, at start: a reload that leaves
// the attestation section as it was does not read them again, so one
// removed after start (a Kubernetes secret remounted) does not refuse a
// reload that adds a node.
func TestReloadWithAttestationRootGoneAsProcess(t *testing.T) {
	f := fakeNodes(t, 2, 1)
	rpcPort, metricsPort := freePort(t), freePort(t)
	attestation := attesttest.NewSNP(t).AttestationYAML(t)
	_, roots, _ := strings.Cut(attestation, "amd_roots: ")
	roots, err := strconv.Unquote(strings.TrimSpace(roots))
	if err != nil {
		t.Fatalf("amd_roots in %q: %v", attestation, err)
	}
	path := filepath.Join(t.TempDir(), "evmgate.yaml")
	top := listeners(rpcPort, metricsPort) + attestation + "networks:\n  - name: mainnet\n"
	writeFile(t, path, top+fakeNodesYAML("local_nodes", "", f[0]))
	p := startProc(t, nil, "-config", path)
	p.waitOutput(p.stderr, "gateway started", 2*time.Minute)

	if err := os.Remove(roots); err != nil {
		t.Fatal(err)
	}
	writeFile(t, path, top+fakeNodesYAML("local_nodes", "", f[0], f[1]))
	p.signal(syscall.SIGHUP)
	text := p.waitOutput(p.stderr, "configuration reload", time.Minute)
	if line := grepLines(text, "reload refused"); line != "" {
		t.Fatalf("the reload was refused:\n%s", line)
	}
	eventually(t, time.Minute, "/status to list fake1, up", func() bool {
		for _, nd := range statusOf(t, "http://"+addr(metricsPort))["mainnet"].Nodes {
			if nd.Name == "fake1" {
				return nd.State == "up"
			}
		}
		return false
	})
	if code, body := rpc(t, "http://"+addr(rpcPort)+"/mainnet", clientVersion); code != 200 {
		t.Errorf("a call after the reload: %d %s", code, body)
	}
	if code, took := p.terminate(time.Minute); code != 0 {
		t.Fatalf("exit %d after SIGTERM (%v)", code, took)
	}
	if line := grepLines(p.stderr.String(), "reload refused"); line != "" {
		t.Fatalf("a reload was refused:\n%s", line)
	}
}
