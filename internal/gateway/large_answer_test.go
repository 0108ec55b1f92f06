package gateway_test

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/evmgate/evmgate/internal/fakenode"
)

// frontNode serves the fake node f's answers through send, which decides
// how each goes on the wire; it returns the front's URL.
func frontNode(t *testing.T, f *fakenode.Node, send func(w http.ResponseWriter, r *http.Request, out []byte)) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec := httptest.NewRecorder()
		f.ServeHTTP(rec, r)
		w.Header().Set("Content-Type", "application/json")
		send(w, r, rec.Body.Bytes())
	})}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return "http://" + ln.Addr().String()
}

// pacedNode sends an answer longer than 1 KiB in two halves: the second
// only once release is closed. With fixedLength it announces the length
// (as geth does), otherwise the answer is chunked.
type pacedNode struct {
	fixedLength bool
	release     chan struct{}
}

func (p *pacedNode) send(w http.ResponseWriter, r *http.Request, out []byte) {
	if p.fixedLength {
		w.Header().Set("Content-Length", strconv.Itoa(len(out)))
	}
	if len(out) <= 1024 {
		w.Write(out)
		return
	}
	half := len(out) / 2
	w.Write(out[:half])
	w.(http.Flusher).Flush()
	select {
	case <-p.release:
	case <-r.Context().Done():
		return
	}
	w.Write(out[half:])
}

// TestLargeAnswerGoesOutAsItArrives: an answer over 1 MiB, with its length
// announced or chunked, reaches the client as the node sends it (the
// client reads its first half while the node still holds the second), is
// byte for byte the node's answer with the client's id, and the
// connection closes after it; the next call is served. For a client that
// accepts gzip the answer is compressed as it goes, and still reaches the
// client as the node sends it, though it compresses to almost nothing.
func TestLargeAnswerGoesOutAsItArrives(t *testing.T) {
	result := `"0x` + strings.Repeat("ab", 1500<<10) + `"` // about 3 MB
	for _, tc := range []struct{ fixed, gzip bool }{{true, false}, {false, false}, {true, true}, {false, true}} {
		fixed := tc.fixed
		t.Run(fmt.Sprintf("fixed_length=%v,gzip=%v", fixed, tc.gzip), func(t *testing.T) {
			f := fakes(t, 1)[0]
			f.SetResult("eth_getCode", result)
			p := &pacedNode{fixedLength: fixed, release: make(chan struct{})}
			g := startGateway(t, netYAML("    cache: false\n    rpc_timeout: 30s\n",
				fmt.Sprintf("    local_nodes:\n      - rpc_endpoint: %q\n", frontNode(t, f, p.send))))
			url := g.RPCURL() + "/mainnet"
			waitFor(t, "the node eligible", func() bool { return eligibleNodes(g, "mainnet") == 1 })

			call := `{"jsonrpc":"2.0","id":"me","method":"eth_getCode","params":["0x00000000000000000000000000000000000000aa","latest"]}`
			// Go's client asks for gzip and decodes it unless told not to.
			hc := &http.Client{Transport: &http.Transport{DisableCompression: !tc.gzip}}
			defer hc.CloseIdleConnections()
			resp, err := hc.Post(url, "application/json", strings.NewReader(call))
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			if resp.StatusCode != 200 || !resp.Close || resp.Uncompressed != tc.gzip {
				t.Fatalf("status %d, Connection: close %v, decoded from gzip %v", resp.StatusCode, resp.Close, resp.Uncompressed)
			}
			if fixed && !tc.gzip && resp.ContentLength < int64(len(result)) {
				t.Errorf("Content-Length %d for a %d-byte result", resp.ContentLength, len(result))
			}
			br := bufio.NewReader(resp.Body)
			first := make([]byte, 1<<20)
			if _, err := io.ReadFull(br, first); err != nil {
				t.Fatalf("reading the first MiB while the node holds the rest: %v", err)
			}
			close(p.release)
			rest, err := io.ReadAll(br)
			if err != nil {
				t.Fatal(err)
			}
			want := `{"jsonrpc":"2.0","id":"me","result":` + result + `}`
			if got := string(first) + string(rest); got != want {
				t.Fatalf("answer of %d bytes differs from the node's %d bytes", len(got), len(want))
			}
			if r := post(t, url, blockNumber); r.status != 200 || !strings.Contains(r.body, `"result"`) {
				t.Errorf("the next call: %d %s", r.status, r.body)
			}
		})
	}
}

// TestSmallAnswerKeepsTheConnection: answers held in memory keep the
// connection alive: many calls on one connection, small ones and 100 KB
// ones that the node sends chunked.
func TestSmallAnswerKeepsTheConnection(t *testing.T) {
	f := fakes(t, 1)
	f[0].SetResult("eth_getCode", `"0x`+strings.Repeat("cd", 50<<10)+`"`)
	getCode := `{"jsonrpc":"2.0","id":2,"method":"eth_getCode","params":["0x00000000000000000000000000000000000000aa","latest"]}`
	g := startGateway(t, netYAML("    cache: false\n", nodesYAML("local_nodes", f...)))
	waitFor(t, "the node eligible", func() bool { return eligibleNodes(g, "mainnet") == 1 })
	c, err := net.Dial("tcp", strings.TrimPrefix(g.RPCURL(), "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(30 * time.Second))
	br := bufio.NewReader(c)
	for i := range 20 {
		body := blockNumber
		if i%2 == 1 {
			body = getCode
		}
		req, _ := http.NewRequest(http.MethodPost, g.RPCURL()+"/mainnet", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		if err := req.Write(c); err != nil {
			t.Fatalf("request %d: %v", i, err)
		}
		resp, err := http.ReadResponse(br, req)
		if err != nil {
			t.Fatalf("answer %d: %v", i, err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || resp.Close || !bytes.Contains(b, []byte(`"result"`)) || resp.Header.Get("X-Request-Id") == "" {
			t.Fatalf("answer %d: %d close=%v %.200s %v", i, resp.StatusCode, resp.Close, b, resp.Header)
		}
		if i%2 == 1 && len(b) < 100<<10 {
			t.Fatalf("answer %d: %d bytes, want the 100 KB result", i, len(b))
		}
	}
}

// TestQueuedCallOfAClientThatLeftIsNotSent: a call that waits in the
// queue while its client closes the connection is not sent to the node
// when its turn comes (the fast server's request context does not end
// when the client goes away; the connection is checked before a late
// try). It is counted as client_gone.
func TestQueuedCallOfAClientThatLeftIsNotSent(t *testing.T) {
	f := fakes(t, 1)
	f[0].Hold("eth_getBalance")
	f[0].Record("eth_getBalance")
	g := startGateway(t, netYAML("    max_concurrency: 1\n    rpc_timeout: 10s\n    cache: false\n", nodesYAML("local_nodes", f...)))
	url := g.RPCURL() + "/mainnet"
	waitFor(t, "the node eligible", func() bool { return eligibleNodes(g, "mainnet") == 1 })
	first := make(chan reply, 1)
	go func() { first <- post(t, url, getBalance) }()
	waitFor(t, "the first call at the node", func() bool { return len(f[0].Arrivals("eth_getBalance")) == 1 })

	c, err := net.Dial("tcp", strings.TrimPrefix(g.RPCURL(), "http://"))
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest(http.MethodPost, url, strings.NewReader(strings.Replace(getBalance, `"id":3`, `"id":"left"`, 1)))
	req.Header.Set("Content-Type", "application/json")
	sent := time.Now()
	if err := req.Write(c); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the second call queued", func() bool { return queueDepth(t, g.MetricsURL(), "low") == "1" })
	c.Close()
	// The check applies to a try later than 50 ms after its request.
	time.Sleep(time.Until(sent.Add(100 * time.Millisecond)))
	f[0].Release("eth_getBalance")
	if r := <-first; r.status != 200 {
		t.Fatalf("the first call: %d %s", r.status, r.body)
	}
	waitFor(t, "the left call counted", func() bool {
		return sum(t, g, "evmgate_calls_total", map[string]string{"status": "client_gone"}) == 1
	})
	if a := f[0].Arrivals("eth_getBalance"); len(a) != 1 {
		t.Errorf("the node got eth_getBalance calls %v, want only the first: the left client's call was sent", a)
	}
}

// TestHeldCutAnswerIsTakenBack: a node whose answer ends before the length
// it announced is never made whole by the gateway; an answer held whole
// before it is written (under 1 MiB) is taken back, and with no other node
// to try the client gets the gateway's error naming the node's, whole.
func TestHeldCutAnswerIsTakenBack(t *testing.T) {
	for _, tc := range []struct {
		name, settings, path, method string
	}{
		{"uncached", "    cache: false\n", "/mainnet", "eth_blockNumber"},
		// A call the cache may keep goes through the cache's copy of the answer.
		{"cached", "", "/mainnet", "eth_getBlockByNumber"},
		// prio-load-balancer paths answer through a writer of their own.
		{"prio path", "    cache: false\n    paths: [\"/sim\"]\n", "/sim", "eth_blockNumber"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			url := frontNode(t, fakes(t, 1)[0], func(w http.ResponseWriter, _ *http.Request, out []byte) {
				if !bytes.Contains(out, []byte(`"id":"cut"`)) {
					w.Write(out)
					return
				}
				w.Header().Set("Content-Length", strconv.Itoa(len(out)+1000))
				w.Write(out)
				w.(http.Flusher).Flush()
				c, _, _ := w.(http.Hijacker).Hijack()
				c.Close()
			})
			g := startGateway(t, netYAML(tc.settings+"    rpc_retries: 0\n",
				fmt.Sprintf("    local_nodes:\n      - rpc_endpoint: %q\n", url)))
			waitFor(t, "the node eligible", func() bool { return eligibleNodes(g, "mainnet") == 1 })
			params := `[]`
			if tc.method == "eth_getBlockByNumber" {
				params = `["0x1",false]`
			}
			resp, err := http.Post(g.RPCURL()+tc.path, "application/json",
				strings.NewReader(`{"jsonrpc":"2.0","id":"cut","method":"`+tc.method+`","params":`+params+`}`))
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			b, err := io.ReadAll(resp.Body)
			want := http.StatusServiceUnavailable
			if tc.path == "/sim" {
				want = http.StatusInternalServerError // prio-load-balancer's plain-text failure
			}
			if err != nil || resp.StatusCode != want || !bytes.Contains(b, []byte("no node could answer")) || !bytes.Contains(b, []byte("unexpected EOF")) {
				t.Fatalf("a held answer the node cut: %d %q %v, want %d naming the cut", resp.StatusCode, b, err, want)
			}
		})
	}
}

// TestPipelinedLargeAnswerKeepsItsPlace: a client that sends a small call
// and a call with an answer over 1 MiB back to back, without waiting,
// reads the two answers in the order it asked. The first answer still sits
// in the server's buffer when the second is served, so the second is held
// whole instead of written straight to the connection ahead of it.
func TestPipelinedLargeAnswerKeepsItsPlace(t *testing.T) {
	result := `"0x` + strings.Repeat("ab", 1500<<10) + `"` // about 3 MB
	getCode := `{"jsonrpc":"2.0","id":"big","method":"eth_getCode","params":["0x00000000000000000000000000000000000000aa","latest"]}`
	balance := `{"jsonrpc":"2.0","id":1,"method":"eth_getBalance","params":["0x00000000000000000000000000000000000000aa","latest"]}`
	for _, first := range []struct {
		name, body, want string
	}{
		{"small first answer", blockNumber, `"result":"0x`},
		// Longer than the server's write buffer: part of it goes out, the
		// rest stays in the buffer.
		{"6 KB first answer", balance, `"result":"0x` + strings.Repeat("cd", 10)},
	} {
		t.Run(first.name, func(t *testing.T) {
			f := fakes(t, 1)
			f[0].SetResult("eth_getCode", result)
			f[0].SetResult("eth_getBalance", `"0x`+strings.Repeat("cd", 3000)+`"`)
			g := startGateway(t, netYAML("    cache: false\n    rpc_timeout: 30s\n", nodesYAML("local_nodes", f...)))
			waitFor(t, "the node eligible", func() bool { return eligibleNodes(g, "mainnet") == 1 })
			c, err := net.Dial("tcp", strings.TrimPrefix(g.RPCURL(), "http://"))
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			c.SetDeadline(time.Now().Add(60 * time.Second))
			var both bytes.Buffer
			for _, body := range []string{first.body, getCode} {
				req, _ := http.NewRequest(http.MethodPost, g.RPCURL()+"/mainnet", strings.NewReader(body))
				req.Header.Set("Content-Type", "application/json")
				if err := req.Write(&both); err != nil {
					t.Fatal(err)
				}
			}
			if _, err := c.Write(both.Bytes()); err != nil { // one write: the server reads both at once
				t.Fatal(err)
			}
			br := bufio.NewReader(c)
			for i, want := range []string{first.want, `"id":"big"`} {
				resp, err := http.ReadResponse(br, nil)
				if err != nil {
					t.Fatalf("answer %d: %.200v", i, err) // a misplaced answer's bytes: the start is enough
				}
				b, err := io.ReadAll(resp.Body)
				resp.Body.Close()
				if err != nil {
					t.Fatalf("answer %d: %v", i, err)
				}
				if !strings.Contains(string(b[:min(len(b), 200)]), want) || i == 0 && len(b) > 10000 {
					t.Fatalf("answer %d (%d bytes) is not the one asked %s: %.120s", i, len(b), want, b)
				}
				if i == 1 && len(b) < len(result) {
					t.Fatalf("the large answer has %d bytes, want over %d", len(b), len(result))
				}
			}
		})
	}
}
