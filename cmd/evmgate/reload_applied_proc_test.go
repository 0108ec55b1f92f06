//go:build !nodemo

package main

import (
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
)

// A successful reload's log line names the keys it applied, and only
// those: by SIGHUP and by a change on disk; "no changes" when the file is
// the same. Neither a key's secret nor a node URL's credentials show.
func TestReloadLogsAppliedKeysAsProcess(t *testing.T) {
	f := fakeNodes(t, 2, 1)
	rpcPort, metricsPort := freePort(t), freePort(t)
	const nodeSecret, keySecret1, keySecret2 = "NodePassword7", "KeySecretOne0123456789abcdef", "KeySecretTwo0123456789abcdef"
	node := func(i int) string { // with credentials, as a provider's URL may carry
		return "      - rpc_endpoint: " + strings.Replace(f[i].URL(), "http://", "http://user:"+nodeSecret+"@", 1) + "\n"
	}
	text := func(nodes, key, extra string) string {
		return listeners(rpcPort, metricsPort) + extra + "access:\n  keys:\n    - name: k\n      key: " + key + "\n" +
			"networks:\n  - name: mainnet\n    local_nodes:\n" + nodes
	}
	cf := newConfigFiles(t)
	cf.replace(text(node(0), keySecret1, ""))
	p := startProc(t, nil, "-config", cf.path)
	p.waitOutput(p.stderr, "gateway started", 2*time.Minute)

	applied := regexp.MustCompile(`applied=("[^"]*"|\S+)`)
	step := func(n int, what, source, want string, change func()) {
		t.Helper()
		change()
		if source == "sighup" {
			p.signal(syscall.SIGHUP)
		}
		logs := p.waitCount(p.stderr, "configuration reloaded", n, time.Minute)
		lines := strings.Split(grepLines(logs, "configuration reloaded"), "\n")
		line := lines[len(lines)-1]
		m := applied.FindStringSubmatch(line)
		if m == nil || strings.Trim(m[1], `"`) != want || !strings.Contains(line, "source="+source) {
			t.Errorf("%s: the reload line does not say applied=%q by %s:\n%s", what, want, source, line)
		}
	}
	step(1, "a node added", "sighup", "networks.mainnet.local_nodes", func() { cf.rewriteTarget(text(node(0)+node(1), keySecret1, "")) })
	step(2, "the same file", "sighup", "no changes", func() {})
	step(3, "a key's secret", "sighup", "access.keys", func() { cf.rewriteTarget(text(node(0)+node(1), keySecret2, "")) })
	step(4, "two sections, on disk", "file", "scheduler.max_queued_low, response_compression.min_bytes", func() {
		cf.replace(text(node(0)+node(1), keySecret2, "response_compression:\n  min_bytes: 10\nscheduler:\n  max_queued_low: 5000\n"))
	})
	for _, s := range []string{nodeSecret, keySecret1, keySecret2} {
		if strings.Contains(p.stderr.String(), s) {
			t.Errorf("the logs show the secret %q", s)
		}
	}
	if code, _ := p.terminate(time.Minute); code != 0 {
		t.Errorf("exit %d after SIGTERM", code)
	}
}
