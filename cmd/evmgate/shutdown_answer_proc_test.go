package main

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/evmgate/evmgate/internal/certfile/certtest"
)

// shutdownAnswer is what a client got for a call held past shutdown_grace.
type shutdownAnswer struct {
	status     int
	proto      string
	retryAfter string
	body       string
	err        error
}

// postHeld posts body with c and sends what comes back on out.
func postHeld(c *http.Client, url, body string, out chan<- shutdownAnswer) {
	resp, err := c.Post(url, "application/json", strings.NewReader(body))
	if err != nil {
		out <- shutdownAnswer{err: err}
		return
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	out <- shutdownAnswer{status: resp.StatusCode, proto: resp.Proto, retryAfter: resp.Header.Get("Retry-After"), body: string(b), err: err}
}

// shutdownError is the JSON-RPC error of a call stopped by the end of the grace.
type shutdownError struct {
	ID    json.RawMessage `json:"id"`
	Error *struct {
		Code    int    `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

// wantStopped checks that body is the -32056 answer of the call id.
func wantStopped(t *testing.T, what string, body []byte, id string) {
	t.Helper()
	var e shutdownError
	if err := json.Unmarshal(body, &e); err != nil || e.Error == nil || e.Error.Code != -32056 || string(e.ID) != id ||
		!strings.Contains(e.Error.Message, "another replica") {
		t.Fatalf("%s: %s, want error -32056 with id %s saying to retry on another replica", what, body, id)
	}
}

// SIGTERM with shutdown_grace: 1s while calls wait on a node that does not
// answer them, with tries shorter than the ones whose client is watched
// (so the pooled HTTP/1.1 client to the node watches nothing): when the
// grace ends each client gets an answer, not a cut connection. Over TLS,
// HTTP/1.1 (the fast server) and HTTP/2 (net/http's) each get 503 with
// Retry-After and error -32056 with their call's id; a batch gets 503 with
// -32056 for each of its calls, with their ids; a prio-load-balancer path
// gets 503 in plain text; a WebSocket client gets the error for its call,
// then the close frame 1001. The node's tries end with them, the WARN line
// counts the calls so answered, and the process exits 0.
func TestShutdownAnswersCallsInFlightAsProcess(t *testing.T) {
	f := fakeNodes(t, 1, 1)
	dir := t.TempDir()
	ca := certtest.NewCA(t, "evmgate shutdown ca")
	certFile, keyFile := ca.Server(t, "shutdown").Write(t, dir, "rpc")
	rpcPort := freePort(t)
	path := filepath.Join(dir, "evmgate.yaml")
	writeFile(t, path, listeners(rpcPort, freePort(t))+"shutdown_grace: 1s\nrequest_timeout: 9s\n"+
		fmt.Sprintf("tls:\n  cert_file: %q\n  key_file: %q\n", certFile, keyFile)+
		"networks:\n  - name: mainnet\n    paths: [\"/sim\"]\n    local_poll_interval: 100ms\n    rpc_timeout: 9s\n"+
		fakeNodesYAML("local_nodes", "", f[0]))
	p := startProc(t, nil, "-config", path)
	p.waitOutput(p.stderr, "gateway started", 2*time.Minute)

	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	roots := func() *tls.Config { return &tls.Config{RootCAs: ca.Pool()} }
	h1 := &http.Client{Timeout: time.Minute, Transport: &http.Transport{TLSClientConfig: roots(),
		TLSNextProto: map[string]func(string, *tls.Conn) http.RoundTripper{}}}
	h2 := &http.Client{Timeout: time.Minute, Transport: &http.Transport{TLSClientConfig: roots(), ForceAttemptHTTP2: true}}
	base := "https://" + addr(rpcPort)

	// Each call has params of its own: no two share one node call.
	call := func(id int, param string) string {
		return fmt.Sprintf(`{"jsonrpc":"2.0","id":%d,"method":"web3_clientVersion","params":[%q]}`, id, param)
	}
	f[0].Hold("web3_clientVersion")
	f[0].Record("web3_clientVersion")
	wsConn, _, err := websocket.Dial(ctx, "wss://"+addr(rpcPort)+"/mainnet", &websocket.DialOptions{
		HTTPClient: &http.Client{Transport: &http.Transport{TLSClientConfig: roots()}}})
	if err != nil {
		t.Fatal(err)
	}
	defer wsConn.CloseNow()
	if err := wsConn.Write(ctx, websocket.MessageText, []byte(call(31, "ws"))); err != nil {
		t.Fatal(err)
	}
	// The client reads as it would: the answer, then the close frame.
	type wsRead struct {
		msg      []byte
		err      error
		closeErr error
	}
	wsGot := make(chan wsRead, 1)
	go func() {
		var r wsRead
		if _, r.msg, r.err = wsConn.Read(ctx); r.err == nil {
			_, _, r.closeErr = wsConn.Read(ctx)
		}
		wsGot <- r
	}()
	single1, single2, batch, prio := make(chan shutdownAnswer, 1), make(chan shutdownAnswer, 1), make(chan shutdownAnswer, 1), make(chan shutdownAnswer, 1)
	go postHeld(h1, base+"/mainnet", call(11, "h1"), single1)
	go postHeld(h2, base+"/mainnet", call(12, "h2"), single2)
	go postHeld(h1, base+"/mainnet", "["+call(21, "b1")+","+call(22, "b2")+"]", batch)
	go postHeld(h1, base+"/sim", call(41, "prio"), prio)
	eventually(t, time.Minute, "the six calls to wait at the node", func() bool {
		return len(f[0].Arrivals("web3_clientVersion")) == 6
	})

	code, took := p.terminate(time.Minute)
	if code != 0 {
		t.Fatalf("exit code %d, want 0\n%s", code, p.stderr)
	}
	for _, c := range []struct {
		what, proto string
		ch          <-chan shutdownAnswer
		id          string
	}{{"HTTP/1.1", "HTTP/1.1", single1, "11"}, {"HTTP/2", "HTTP/2.0", single2, "12"}} {
		a := <-c.ch
		if a.err != nil || a.status != 503 || a.retryAfter != "1" || a.proto != c.proto {
			t.Fatalf("%s call held past the grace: %d %s Retry-After %q, %v; want 503 with Retry-After 1 over %s", c.what, a.status, a.proto, a.retryAfter, a.err, c.proto)
		}
		wantStopped(t, c.what+" call", []byte(a.body), c.id)
	}
	a := <-batch
	var members []json.RawMessage
	if a.err != nil || a.status != 503 || a.retryAfter != "1" || json.Unmarshal([]byte(a.body), &members) != nil || len(members) != 2 {
		t.Fatalf("batch held past the grace: %d Retry-After %q %s, %v; want 503 with two answers", a.status, a.retryAfter, a.body, a.err)
	}
	wantStopped(t, "batch member", members[0], "21")
	wantStopped(t, "batch member", members[1], "22")
	a = <-prio
	if a.err != nil || a.status != 503 || a.retryAfter != "1" || strings.Contains(a.body, "jsonrpc") || !strings.Contains(a.body, "another replica") {
		t.Fatalf("prio-load-balancer path held past the grace: %d Retry-After %q %q, %v; want 503 in plain text", a.status, a.retryAfter, a.body, a.err)
	}
	r := <-wsGot
	if r.err != nil {
		t.Fatalf("the WebSocket client got no answer for its call: %v", r.err)
	}
	wantStopped(t, "WebSocket call", r.msg, "31")
	if websocket.CloseStatus(r.closeErr) != websocket.StatusGoingAway {
		t.Fatalf("after the answer, the WebSocket client saw %v, want close 1001 going away", r.closeErr)
	}
	warn := grepLines(p.stderr.String(), "after shutdown_grace")
	if !regexp.MustCompile(`level=WARN .*answered=6 cut=0`).MatchString(warn) {
		t.Fatalf("the WARN line does not count the six calls answered:\n%s", warn)
	}
	t.Logf("exit 0 %v after SIGTERM; %s", took.Round(time.Millisecond), warn)
}
