package main

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/evmgate/evmgate/internal/devnet"
)

// wsFollow reads every message of a WebSocket: answers go to answers,
// notifications are counted; done closes when the connection ends, err
// then telling how.
type wsFollow struct {
	answers chan string
	notes   atomic.Int64
	done    chan struct{}
	err     error
}

func followWS(c *websocket.Conn) *wsFollow {
	f := &wsFollow{answers: make(chan string, 16), done: make(chan struct{})}
	go func() {
		defer close(f.done)
		for {
			_, msg, err := c.Read(context.Background())
			if err != nil {
				f.err = err
				return
			}
			if strings.Contains(string(msg), `"method":"eth_subscription"`) {
				f.notes.Add(1)
				continue
			}
			f.answers <- string(msg)
		}
	}()
	return f
}

// answer waits for the next answer, read before the connection ended if
// it did (an answer and the close frame after it may both be in when
// this looks).
func (f *wsFollow) answer(t *testing.T, what string) string {
	t.Helper()
	select {
	case a := <-f.answers:
		return a
	case <-f.done:
		select {
		case a := <-f.answers: // queued before done was closed
			return a
		default:
		}
		t.Fatalf("%s: the connection ended: %v", what, f.err)
	case <-time.After(time.Minute):
		t.Fatalf("%s: no answer within a minute", what)
	}
	return ""
}

// closed waits for the connection to end and checks it ended with a close
// frame of 1008 whose reason holds reason.
func (f *wsFollow) closed(t *testing.T, what, reason string) {
	t.Helper()
	select {
	case <-f.done:
	case <-time.After(time.Minute):
		t.Fatalf("%s: the connection is still open a minute on", what)
	}
	var ce websocket.CloseError
	if !errors.As(f.err, &ce) || ce.Code != websocket.StatusPolicyViolation || !strings.Contains(ce.Reason, reason) {
		t.Fatalf("%s: the connection ended with %v, want close 1008 saying %q", what, f.err, reason)
	}
}

// A key taken away while WebSockets it opened are open, by a reload that
// removes it from the file or through the admin API: the next call on such
// a socket gets the error an HTTP call gets (-32070 naming the key), and
// the socket is closed (1008, the reason naming the key), ending its
// subscription, whether the client sends a call or only receives
// notifications. Other keys' sockets go on.
func TestWebSocketKeyTakenAwayAsProcess(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 4*time.Minute)
	defer cancel()
	dn, err := devnet.Start(ctx, devnet.Config{Nodes: 1, BlockPeriod: 300 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { dn.Close() })
	nd := dn.Nodes()[0]
	const fileKey, keptKey = "proc-ws-file-0123456789abcdef", "proc-ws-kept-0123456789abcdef"
	dir := t.TempDir()
	rpcPort, metricsPort, adminPort := freePort(t), freePort(t), freePort(t)
	top := listeners(rpcPort, metricsPort) + "admin:\n  listen: " + addr(adminPort) + "\n  state_file: " + filepath.Join(dir, "state.json") +
		"\nnetworks:\n  - name: dev\n    chain_id: 1337\n    local_poll_interval: 100ms\n    local_nodes:\n" +
		"      - rpc_endpoint: " + nd.HTTPURL() + "\n        ws_endpoint: " + nd.WSURL() + "\n" +
		"access:\n  keys:\n    - {name: kept, key: " + keptKey + "}\n"
	cfg := filepath.Join(dir, "evmgate.yaml")
	writeFile(t, cfg, top+"    - {name: dapp, key: "+fileKey+"}\n")
	p := startProc(t, nil, "-config", cfg)
	p.waitOutput(p.stderr, "gateway started", 2*time.Minute)
	url := "ws://" + addr(rpcPort) + "/dev"
	const blockNumber = `{"jsonrpc":"2.0","id":5,"method":"eth_blockNumber","params":[]}`

	// open dials with key in X-API-Key, subscribes to newHeads when asked,
	// and waits for a notification.
	open := func(key string, subscribe bool) (*websocket.Conn, *wsFollow) {
		t.Helper()
		c, _, err := websocket.Dial(ctx, url, &websocket.DialOptions{HTTPHeader: http.Header{"X-Api-Key": {key}}})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.CloseNow() })
		f := followWS(c)
		if !subscribe {
			return c, f
		}
		if err := c.Write(ctx, websocket.MessageText, []byte(`{"jsonrpc":"2.0","id":1,"method":"eth_subscribe","params":["newHeads"]}`)); err != nil {
			t.Fatal(err)
		}
		if a := f.answer(t, "subscribing"); !strings.Contains(a, `"result":"0x`) {
			t.Fatalf("subscribing: %s", a)
		}
		eventually(t, time.Minute, "a newHeads notification", func() bool { return f.notes.Load() > 0 })
		return c, f
	}
	call := func(c *websocket.Conn, f *wsFollow, what string) string {
		t.Helper()
		if err := c.Write(ctx, websocket.MessageText, []byte(blockNumber)); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		return f.answer(t, what)
	}
	refusedCall := func(c *websocket.Conn, f *wsFollow, what, says string) {
		t.Helper()
		a := call(c, f, what)
		if !strings.Contains(a, `"id":5`) || !strings.Contains(a, `"code":-32070`) || !strings.Contains(a, strings.ReplaceAll(says, `"`, `\"`)) {
			t.Fatalf("%s: %s, want -32070 saying %s", what, a, says)
		}
		f.closed(t, what, says)
	}
	kept, keptF := open(keptKey, true)

	t.Run("removed by a reload", func(t *testing.T) {
		caller, callerF := open(fileKey, false)
		_, subF := open(fileKey, true)
		if a := call(caller, callerF, "a call before the reload"); !strings.Contains(a, `"result":"0x`) {
			t.Fatalf("a call before the reload: %s", a)
		}
		replaceFile(t, cfg, top)
		p.signal(syscall.SIGHUP)
		p.waitOutput(p.stderr, "configuration reloaded", time.Minute)
		refusedCall(caller, callerF, "a call after the reload", `the API key "dapp" is no longer valid`)
		subF.closed(t, "the subscribed socket after the reload", `the API key "dapp" is no longer valid`)
	})

	t.Run("revoked through the admin API", func(t *testing.T) {
		admin := "http://" + addr(adminPort) + "/admin/keys"
		code, _, body := apmDo(t, http.MethodPost, admin, `{"name":"live"}`)
		var created struct{ Key string }
		if code != 201 || json.Unmarshal([]byte(body), &created) != nil || created.Key == "" {
			t.Fatalf("creating a key: %d %s", code, body)
		}
		caller, callerF := open(created.Key, false)
		_, subF := open(created.Key, true)
		if a := call(caller, callerF, "a call before the revocation"); !strings.Contains(a, `"result":"0x`) {
			t.Fatalf("a call before the revocation: %s", a)
		}
		if code, _, body := apmDo(t, http.MethodDelete, admin+"/live", ""); code != 200 {
			t.Fatalf("revoking: %d %s", code, body)
		}
		refusedCall(caller, callerF, "a call after the revocation", `the API key "live" was revoked`)
		subF.closed(t, "the subscribed socket after the revocation", `the API key "live" was revoked`)
	})

	// The key that stayed serves on, its subscription too.
	seen := keptF.notes.Load()
	if a := call(kept, keptF, "the kept key's call"); !strings.Contains(a, `"result":"0x`) {
		t.Fatalf("the kept key's call: %s", a)
	}
	eventually(t, time.Minute, "the kept key's subscription to go on", func() bool { return keptF.notes.Load() > seen })
	if got := metricLine(t, "http://"+addr(metricsPort), `evmgate_ws_disconnects_total{network="dev",reason="access_refused"}`); got != "4" {
		t.Fatalf("disconnects for a refused key: %q, want 4", got)
	}
}
