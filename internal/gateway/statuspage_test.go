package gateway_test

import (
	"context"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// chromium finds a headless browser. Under CI=true a missing browser fails
// the test (CI installs Debian's chromium); elsewhere the test is skipped.
func chromium(t *testing.T) string {
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("CI") == "true" {
		t.Fatal("no chromium on the PATH: install the Debian package chromium")
	}
	t.Skip("no chromium on the PATH (apt-get install -y chromium)")
	return ""
}

// The status page, rendered by a real browser, shows every node with its
// state as /status reports it.
func TestStatusPageInBrowser(t *testing.T) {
	bin := chromium(t)
	f := fakes(t, 2)
	f[1].SetChainID(5)
	g := startGateway(t, netYAML("", nodesYAML("local_nodes", f...)))
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
		"--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync",
		"--user-data-dir="+t.TempDir(), "--virtual-time-budget=5000", "--dump-dom", g.MetricsURL()+"/status/page")
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("chromium: %v", err)
	}
	dom := string(out)
	for _, want := range []string{
		"mainnet · chain 1 · head 100 · serving tier local · 1 eligible",
		`<td>fake0</td><td>local</td><td><span class="state up">up</span></td><td>yes</td>`,
		`<td>fake1</td><td>local</td><td><span class="state wrong_chain">wrong_chain</span></td><td>no</td>`,
		`<th>failures</th><th>share</th>`,
	} {
		if !strings.Contains(dom, want) {
			t.Fatalf("the rendered page lacks %q:\n%s", want, dom)
		}
	}
}
