package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/evmgate/evmgate/internal/fakenode"
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

// heldGateway is a gateway on one fake node that holds every
// web3_clientVersion call until the test ends, with one such call in flight.
type heldGateway struct {
	p       *proc
	node    *fakenode.Node
	rpcPort int
	held    chan string // the held HTTP call's outcome: status and body
}

// startHeldCall starts a heldGateway with extra top-level keys.
func startHeldCall(t *testing.T, extra string) heldGateway {
	t.Helper()
	f := fakeNodes(t, 1, 1)
	g := heldGateway{node: f[0], rpcPort: freePort(t), held: make(chan string, 1)}
	path := filepath.Join(t.TempDir(), "evmgate.yaml")
	writeFile(t, path, listeners(g.rpcPort, freePort(t))+"request_timeout: 5m\n"+extra+
		"networks:\n  - name: mainnet\n    local_poll_interval: 100ms\n    rpc_timeout: 5m\n"+fakeNodesYAML("local_nodes", "", f[0]))
	g.p = startProc(t, nil, "-config", path)
	g.p.waitOutput(g.p.stderr, "gateway started", 2*time.Minute)

	g.node.Hold("web3_clientVersion")
	g.node.Record("web3_clientVersion")
	go func() {
		code, body := rpcNoFatal("http://"+addr(g.rpcPort)+"/mainnet", clientVersion)
		g.held <- fmt.Sprintf("%d %s", code, body)
	}()
	g.waitHeld(t, 1)
	return g
}

// waitHeld waits until n calls are held at the node.
func (g heldGateway) waitHeld(t *testing.T, n int) {
	t.Helper()
	eventually(t, time.Minute, fmt.Sprintf("%d held calls at the node", n), func() bool {
		return len(g.node.Arrivals("web3_clientVersion")) >= n
	})
}

// A second SIGTERM while the first one's shutdown waits for a call in
// flight ends the process at once: it dies of the signal, long before
// shutdown_grace, and the held client's connection is cut.
func TestSecondSignalEndsAtOnceAsProcess(t *testing.T) {
	g := startHeldCall(t, "shutdown_grace: 5m\n")
	p := g.p
	p.signal(syscall.SIGTERM)
	// Logged once the first signal is handled, when the next one takes
	// the default action: the end of the process.
	p.waitOutput(p.stderr, "shutting down", time.Minute)
	select {
	case <-p.done:
		t.Fatalf("the first SIGTERM ended the process with a call in flight (exit %d)", p.exitCode)
	default:
	}
	start := time.Now()
	p.signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(10 * time.Second):
		t.Fatal("no exit within 10s of the second SIGTERM, with shutdown_grace 5m")
	}
	ended := time.Since(start)
	ws, ok := p.cmd.ProcessState.Sys().(syscall.WaitStatus)
	if !ok || !ws.Signaled() || ws.Signal() != syscall.SIGTERM {
		t.Fatalf("the process ended with %v, want death by SIGTERM", p.cmd.ProcessState)
	}
	select {
	case got := <-g.held:
		if !strings.HasPrefix(got, "0 ") {
			t.Fatalf("the held call was answered: %s", got)
		}
		t.Logf("ended %v after the second SIGTERM; the held call got %s", ended.Round(time.Millisecond), got)
	case <-time.After(10 * time.Second):
		t.Fatal("the held call's client still waits after the process died")
	}
}

// With shutdown_grace: 1s, calls still in flight when the grace ends are
// answered and the process exits 0: an HTTP call and a WebSocket call
// that the node never answers, whose long tries watch their client, each
// get error -32056 with their id (the HTTP call with 503), not a hang nor
// a cut connection. TestShutdownAnswersCallsInFlightAsProcess does the
// same for short tries, over TLS, HTTP/2, a batch and a prio path.
func TestShutdownGraceAnswersHeldCallsAsProcess(t *testing.T) {
	const grace = time.Second
	g := startHeldCall(t, "shutdown_grace: 1s\n")
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	wsConn, _, err := websocket.Dial(ctx, "ws://"+addr(g.rpcPort)+"/mainnet", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer wsConn.CloseNow()
	// Other params than the HTTP call's, so the two do not share one
	// upstream call.
	wsCall := `{"jsonrpc":"2.0","id":2,"method":"web3_clientVersion","params":["ws"]}`
	if err := wsConn.Write(ctx, websocket.MessageText, []byte(wsCall)); err != nil {
		t.Fatal(err)
	}
	wsHeld := make(chan string, 1)
	go func() {
		_, msg, err := wsConn.Read(ctx)
		wsHeld <- fmt.Sprintf("%s %v", msg, err)
	}()
	g.waitHeld(t, 2)

	start := time.Now()
	code, took := g.p.terminate(30 * time.Second)
	if code != 0 {
		t.Fatalf("exit code %d after the grace, want 0", code)
	}
	if took < grace {
		t.Fatalf("exited %v after SIGTERM, before shutdown_grace %v", took, grace)
	}
	if text := g.p.stderr.String(); !strings.Contains(text, "within_grace=false") {
		t.Fatalf("the log does not say the grace ran out:\n%s", grepLines(text, "shut down"))
	}
	for _, c := range []struct {
		what, id string
		ch       <-chan string
	}{{"HTTP", "1", g.held}, {"WebSocket", "2", wsHeld}} {
		select {
		case got := <-c.ch:
			if !strings.Contains(got, `"code":-32056`) || !strings.Contains(got, `"id":`+c.id+`,`) ||
				c.what == "HTTP" && !strings.HasPrefix(got, "503 ") {
				t.Fatalf("the held %s call got %s, want error -32056 with id %s (HTTP: 503)", c.what, got, c.id)
			}
			t.Logf("the %s call held past the grace got: %s", c.what, got)
		case <-time.After(10 * time.Second):
			t.Fatalf("the held %s call's client still waits %v after SIGTERM", c.what, time.Since(start))
		}
	}
	t.Logf("exit 0 %v after SIGTERM", took.Round(time.Millisecond))
}
