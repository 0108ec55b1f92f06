package main

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// Methods lists that admit nothing, and a network where no node admits
// eth_blockNumber: validate says so on stderr and exits 0, a start logs
// the same lines at WARN and serves; what the warnings say holds: the
// nodes are probed (up), eth_blockNumber is answered -32601.
func TestMethodsListWarningsAsProcess(t *testing.T) {
	f := fakeNodes(t, 2, 1)
	rpcPort, metricsPort := freePort(t), freePort(t)
	cfg := filepath.Join(t.TempDir(), "evmgate.yaml")
	writeFile(t, cfg, listeners(rpcPort, metricsPort)+"networks:\n  - name: mainnet\n    local_poll_interval: 100ms\n    local_nodes:\n"+
		fmt.Sprintf("      - {name: %s, rpc_endpoint: %q, methods: {deny: [eth_blockNumber]}}\n", f[0].Name, f[0].URL())+
		fmt.Sprintf("      - {name: %s, rpc_endpoint: %q, methods: {allow: [eth_call, \"debug_*\"], deny: [\"eth_*\", \"debug_*\"]}}\n", f[1].Name, f[1].URL()))
	nothing := `networks[0].local_nodes[1].methods: node "fake1" is sent no call (it is still probed): deny matches every entry of allow (deny wins); narrow its deny list, or remove the node`
	noBlockNumber := `networks[0]: no node of network "mainnet" admits eth_blockNumber by its methods lists`

	code, stdout, stderr := runProc(t, "validate", "-config", cfg)
	if code != 0 || !strings.Contains(firstLine(stdout), "is valid: 1 network(s), 2 node(s)") {
		t.Fatalf("validate: exit %d, stdout %q, stderr %q; want exit 0 and the file valid", code, stdout, stderr)
	}
	if want := "evmgate: warning: " + nothing + "\nevmgate: warning: " + noBlockNumber; !strings.HasPrefix(stderr, want) {
		t.Errorf("validate stderr %q, want it to start %q", stderr, want)
	}

	p := startProc(t, nil, "-config", cfg)
	p.waitOutput(p.stderr, "gateway started", 2*time.Minute)
	for _, w := range []string{nothing, noBlockNumber} {
		line := grepLines(p.stderr.String(), strings.ReplaceAll("configuration: "+w, `"`, `\"`))
		if !strings.Contains(line, "level=WARN") {
			t.Errorf("the start's log has no WARN line with %q:\n%s", w, p.stderr)
		}
	}
	eventually(t, time.Minute, "both nodes probed up", func() bool {
		return nodeStatusOf(t, metricsPort, "mainnet", "fake0").State == "up" && nodeStatusOf(t, metricsPort, "mainnet", "fake1").State == "up"
	})
	if status, body := rpc(t, "http://"+addr(rpcPort)+"/mainnet", `{"jsonrpc":"2.0","id":1,"method":"eth_blockNumber","params":[]}`); status != 200 || !strings.Contains(body, "-32601") {
		t.Errorf("eth_blockNumber: %d %s, want -32601 from the gateway", status, body)
	}
	if code, took := p.terminate(30 * time.Second); code != 0 {
		t.Fatalf("exit code %d after SIGTERM (%v)", code, took)
	}
}

// A network meant for sending transactions only: its nodes admit no
// eth_blockNumber by their methods lists. Said so by refusing the reads
// to its clients (access.networks.<name>.methods), validate prints no
// warning and a start logs none, and a client asking eth_blockNumber gets
// the policy's "not offered" answer (403, -32072) rather than -32601; without that policy both still warn.
func TestSendOnlyNetworkWarningAsProcess(t *testing.T) {
	rpcPort, metricsPort := freePort(t), freePort(t)
	dir := t.TempDir()
	network := listeners(rpcPort, metricsPort) + "networks:\n  - name: relay\n    local_nodes:\n" +
		"      - {name: r0, rpc_endpoint: \"http://127.0.0.1:1\", methods: {allow: [eth_sendRawTransaction, eth_chainId]}}\n"
	warned, meant := filepath.Join(dir, "warned.yaml"), filepath.Join(dir, "meant.yaml")
	writeFile(t, warned, network)
	writeFile(t, meant, network+"access:\n  networks:\n    relay:\n      methods: {allow: [eth_sendRawTransaction, eth_chainId]}\n")
	const warning = `networks[0]: no node of network "relay" admits eth_blockNumber by its methods lists`

	code, stdout, stderr := runProc(t, "validate", "-config", warned)
	if code != 0 || !strings.Contains(stderr, "evmgate: warning: "+warning) || !strings.Contains(stderr, "access.networks.relay.methods") {
		t.Errorf("validate without the policy: exit %d, stdout %q, stderr %q; want exit 0 and the warning, naming the key that silences it", code, stdout, stderr)
	}
	code, stdout, stderr = runProc(t, "validate", "-config", meant)
	if code != 0 || !strings.Contains(stdout, "is valid") || stderr != "" {
		t.Errorf("validate with the policy: exit %d, stdout %q, stderr %q; want exit 0 and nothing on stderr", code, stdout, stderr)
	}

	p := startProc(t, nil, "-config", meant)
	p.waitOutput(p.stderr, "gateway started", 2*time.Minute)
	if lines := grepLines(p.stderr.String(), "configuration: "); lines != "" {
		t.Errorf("the start logged configuration warnings:\n%s", lines)
	}
	if status, body := rpc(t, "http://"+addr(rpcPort)+"/relay", `{"jsonrpc":"2.0","id":1,"method":"eth_blockNumber","params":[]}`); status != 403 || !strings.Contains(body, "-32072") || !strings.Contains(body, "not offered") {
		t.Errorf("eth_blockNumber: %d %s, want the policy's refusal (403, -32072)", status, body)
	}
	if code, took := p.terminate(30 * time.Second); code != 0 {
		t.Fatalf("exit code %d after SIGTERM (%v)", code, took)
	}
}
