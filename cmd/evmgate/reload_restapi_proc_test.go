package main

import (
	"net/http"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// The running binary, its file edited and sent SIGHUP: rest_api turned on,
// off and on again serves and drops /mainnet/health each time; an access
// section added and then removed makes keyless calls 401 and then 200, and
// each of those two changes is logged once at WARN, not on a reload that
// changes nothing.
func TestReloadRESTAPIAndAccessAsProcess(t *testing.T) {
	f := fakeNodes(t, 1, 1)
	rpcPort, metricsPort := freePort(t), freePort(t)
	base := "http://" + addr(rpcPort)
	file := func(rest, access string) string {
		return listeners(rpcPort, metricsPort) + "networks:\n  - name: mainnet\n    local_poll_interval: 100ms\n" + rest +
			fakeNodesYAML("local_nodes", "", f[0]) + access
	}
	const key = "proc-reload-0123456789abcdef"
	const keys = "access:\n  keys:\n    - name: reload\n      key: " + key + "\n"
	const on = "    rest_api: true\n"
	cfg := filepath.Join(t.TempDir(), "evmgate.yaml")
	writeFile(t, cfg, file("", ""))
	p := startProc(t, nil, "-config", cfg)
	p.waitOutput(p.stderr, "gateway started", 2*time.Minute)

	// reload saves text and sends SIGHUP, and returns once a reload after
	// the signal is logged.
	reload := func(text string) {
		t.Helper()
		n := strings.Count(p.stderr.String(), "configuration reloaded")
		replaceFile(t, cfg, text)
		p.signal(syscall.SIGHUP)
		p.waitCount(p.stderr, "configuration reloaded", n+1, time.Minute)
	}
	health := func() (int, string) { return get(t, base+"/mainnet/health") }
	keyless := func() int { code, _ := rpc(t, base+"/mainnet", clientVersion); return code }
	waitHealth := func(what string, want int) {
		t.Helper()
		eventually(t, time.Minute, what, func() bool { code, _ := health(); return code == want })
	}

	if code, body := health(); code != 404 || !strings.Contains(body, "unknown network") {
		t.Fatalf("/mainnet/health without rest_api: %d %s", code, body)
	}
	reload(file(on, ""))
	waitHealth("/mainnet/health to answer 200 after rest_api turned on", 200)
	if _, body := health(); !strings.Contains(body, "Healthcheck response") {
		t.Fatalf("/mainnet/health after rest_api turned on: %s", body)
	}
	if code, body := get(t, base+"/mainnet/blocknumber"); code != 200 || !strings.Contains(body, `"result":"0x64"`) {
		t.Fatalf("/mainnet/blocknumber after rest_api turned on: %d %s", code, body)
	}
	reload(file("", ""))
	waitHealth("/mainnet/health to answer 404 after rest_api turned off", 404)

	const nowKeyed, nowOpen = "client access now requires an API key or a token", "client access is now open"
	reload(file(on, keys))
	waitHealth("/mainnet/health to answer 200 after rest_api turned on again", 200)
	eventually(t, time.Minute, "keyless calls to get 401", func() bool { return keyless() == 401 })
	req, _ := http.NewRequest(http.MethodGet, base+"/mainnet/blocknumber", nil)
	req.Header.Set("X-API-Key", key)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("/mainnet/blocknumber with the key: %d", resp.StatusCode)
	}
	text := p.waitCount(p.stderr, nowKeyed, 1, time.Minute)
	if line := grepLines(text, nowKeyed); !strings.Contains(line, "level=WARN") || !strings.Contains(line, "access.keys") {
		t.Fatalf("the line saying access is now keyed is not a WARN naming access.keys: %s", line)
	}

	reload(file(on, keys)) // SIGHUP alone, the file unchanged
	if n := strings.Count(p.stderr.String(), nowKeyed); n != 1 {
		t.Fatalf("%d lines say access is now keyed after a reload that changed nothing, want 1:\n%s", n, grepLines(p.stderr.String(), "client access"))
	}

	reload(file(on, ""))
	eventually(t, time.Minute, "keyless calls to get 200 again", func() bool { return keyless() == 200 })
	text = p.waitCount(p.stderr, nowOpen, 1, time.Minute)
	if line := grepLines(text, nowOpen); !strings.Contains(line, "level=WARN") {
		t.Fatalf("the line saying access is now open is not a WARN: %s", line)
	}
	if n := strings.Count(p.stderr.String(), nowKeyed); n != 1 {
		t.Fatalf("%d lines say access is now keyed, want still 1", n)
	}
	if code, _ := p.terminate(time.Minute); code != 0 {
		t.Fatalf("exit code %d after SIGTERM", code)
	}
	if strings.Contains(p.stdout.String()+p.stderr.String(), key) {
		t.Fatal("the key is in the process's output")
	}
}
