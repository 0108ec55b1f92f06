package main

import (
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
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
