package main

import (
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// A running gateway with a key in the URL path, called the way a page on
// another origin makes its visitor's browser call it without a preflight
// (a no-cors fetch, a text/plain form whose field name spells a JSON-RPC
// call): refused with 415, and the node never gets the transaction. The
// same call from curl -d (no Origin, a form content type) is served.
func TestBrowserSimplePostRefusedAsProcess(t *testing.T) {
	f := fakeNodes(t, 1, 1)[0]
	const key = "proc-browser-0123456789abcdef"
	rpcPort, metricsPort := freePort(t), freePort(t)
	cfg := filepath.Join(t.TempDir(), "evmgate.yaml")
	writeFile(t, cfg, listeners(rpcPort, metricsPort)+"networks:\n  - name: mainnet\n    chain_id: 1\n    local_nodes:\n"+
		"      - rpc_endpoint: "+f.URL()+"\n        name: a\naccess:\n  require_key: true\n  keys:\n    - name: dapp\n      key: "+key+"\n")
	p := startProc(t, nil, "-config", cfg)
	p.waitOutput(p.stderr, "gateway started", 2*time.Minute)
	url := "http://" + addr(rpcPort) + "/mainnet/" + key
	const call = `{"jsonrpc":"2.0","id":1,"method":"eth_sendRawTransaction","params":["0x01"]`
	sent := func() int64 { return f.Calls("eth_sendRawTransaction") }

	send := func(body string, hdr ...string) (int, string) {
		t.Helper()
		req, _ := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
		for i := 0; i+1 < len(hdr); i += 2 {
			req.Header.Set(hdr[i], hdr[i+1])
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatalf("POST: %v", err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	browser := []string{
		"User-Agent", "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36",
		"Origin", "https://attacker.example", "Referer", "https://attacker.example/",
		"Sec-Fetch-Site", "cross-site", "Sec-Fetch-Dest", "empty",
	}
	const want = `{"jsonrpc":"2.0","id":null,"error":{"code":-32600,"message":"invalid request: a browser request must be sent with Content-Type: application/json"}}`
	for _, c := range []struct {
		name, body string
		hdr        []string
	}{
		{"no-cors fetch", call + "}", append(browser, "Content-Type", "text/plain;charset=UTF-8", "Sec-Fetch-Mode", "no-cors")},
		{"text/plain form", call + `,"x":"="}`, append(browser, "Content-Type", "text/plain", "Sec-Fetch-Mode", "navigate")},
	} {
		code, body := send(c.body, c.hdr...)
		if code != http.StatusUnsupportedMediaType || body != want {
			t.Errorf("%s: %d %s; want 415 %s", c.name, code, body, want)
		}
	}
	if n := sent(); n != 0 {
		t.Fatalf("the node got %d eth_sendRawTransaction calls from another origin's page, want none", n)
	}

	code, body := send(call+"}", "User-Agent", "curl/8.5.0", "Content-Type", "application/x-www-form-urlencoded")
	if code != http.StatusOK || !strings.Contains(body, `"result":"0xsent"`) || sent() != 1 {
		t.Fatalf("curl -d: %d %s, node calls %d; want the node's answer", code, body, sent())
	}
}
