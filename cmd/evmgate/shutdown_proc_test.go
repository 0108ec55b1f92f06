package main

import (
	"context"
	"io"
	"net/http"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/coder/websocket"
)

// SIGTERM while a slow call is in flight and a WebSocket client is
// connected: /ready answers 503 at once, the listener accepts for
// shutdown_delay and then refuses, the WebSocket client gets "going away"
// (1001), the call in flight is answered with 200, and the process exits 0
// within the grace.
func TestGracefulShutdownAsProcess(t *testing.T) {
	const delay, grace = time.Second, 15 * time.Second
	f := fakeNodes(t, 1, 1)
	rpcPort, metricsPort := freePort(t), freePort(t)
	path := filepath.Join(t.TempDir(), "evmgate.yaml")
	writeFile(t, path, listeners(rpcPort, metricsPort)+"shutdown_delay: 1s\nshutdown_grace: 15s\n"+
		"networks:\n  - name: mainnet\n    local_poll_interval: 100ms\n    rpc_timeout: 20s\n"+fakeNodesYAML("local_nodes", "", f[0]))
	p := startProc(t, nil, "-config", path)
	p.waitOutput(p.stderr, "gateway started", 2*time.Minute)
	rpcURL, metricsURL := "http://"+addr(rpcPort)+"/mainnet", "http://"+addr(metricsPort)

	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	wsConn, _, err := websocket.Dial(ctx, "ws://"+addr(rpcPort)+"/mainnet", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer wsConn.CloseNow()
	wsClosed := make(chan error, 1)
	go func() {
		_, _, err := wsConn.Read(ctx)
		wsClosed <- err
	}()

	f[0].Hold("web3_clientVersion")
	f[0].Record("web3_clientVersion")
	type answer struct {
		code int
		body string
	}
	slow := make(chan answer, 1)
	go func() {
		code, body := rpcNoFatal(rpcURL, clientVersion)
		slow <- answer{code, body}
	}()
	eventually(t, time.Minute, "the slow call to reach the node", func() bool { return len(f[0].Arrivals("web3_clientVersion")) > 0 })

	start := time.Now()
	p.signal(syscall.SIGTERM)
	eventually(t, 10*time.Second, "/ready to answer 503", func() bool {
		code, _ := get(t, metricsURL+"/ready")
		return code == 503
	})
	readyAfter := time.Since(start)
	if code, _ := get(t, "http://"+addr(rpcPort)+"/health"); code != 200 && time.Since(start) < delay {
		t.Fatalf("a new connection within shutdown_delay got %d", code)
	}
	eventually(t, 30*time.Second, "the RPC listener to refuse", func() bool { return refused(addr(rpcPort)) })
	refusedAfter := time.Since(start)
	if refusedAfter < delay {
		t.Fatalf("the listener refused %v after SIGTERM, before shutdown_delay %v", refusedAfter, delay)
	}
	select {
	case err := <-wsClosed:
		if websocket.CloseStatus(err) != websocket.StatusGoingAway {
			t.Fatalf("the WebSocket client saw %v, want close 1001 going away", err)
		}
	case <-ctx.Done():
		t.Fatal("the WebSocket client was not sent away")
	}

	f[0].Release("web3_clientVersion")
	if a := <-slow; a.code != 200 || !strings.Contains(a.body, `"result":"fake0"`) {
		t.Fatalf("the call in flight at SIGTERM: %d %s", a.code, a.body)
	}
	select {
	case <-p.done:
	case <-time.After(delay + grace):
		t.Fatalf("no exit within shutdown_delay + shutdown_grace\n%s", p.stderr)
	}
	exited := time.Since(start)
	if p.exitCode != 0 {
		t.Fatalf("exit code %d", p.exitCode)
	}
	drained := regexp.MustCompile(`drained_in=(\S+)`).FindStringSubmatch(p.stderr.String())
	if drained == nil {
		t.Fatalf("no drain time in the log:\n%s", p.stderr)
	}
	t.Logf("/ready 503 after %v; listener refused after %v; exit 0 after %v; drained in %s (the held call released at %v)",
		readyAfter.Round(time.Millisecond), refusedAfter.Round(time.Millisecond), exited.Round(time.Millisecond), drained[1], refusedAfter.Round(time.Millisecond))
}

// rpcNoFatal posts body and returns the status and answer; a transport
// error is status 0 with its text (it may run outside the test goroutine).
func rpcNoFatal(url, body string) (int, string) {
	resp, err := http.Post(url, "application/json", strings.NewReader(body))
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return resp.StatusCode, err.Error()
	}
	return resp.StatusCode, string(b)
}
