package main

import (
	"compress/gzip"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// gzipWriter compresses what a handler writes.
type gzipWriter struct {
	http.ResponseWriter
	zw *gzip.Writer
}

func (w gzipWriter) Write(p []byte) (int, error) { return w.zw.Write(p) }

// Keys whose effect a client or a node sees, on one process: log_format,
// max_batch_size, request_timeout, a node's headers and gzip.
func TestServeKeysTakeEffectAsProcess(t *testing.T) {
	f := fakeNodes(t, 1, 1)[0]
	var mu sync.Mutex // mu protects seen
	seen := map[string]int{}
	node := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		seen["X-Node-Key="+r.Header.Get("X-Node-Key")]++
		seen["Accept-Encoding="+r.Header.Get("Accept-Encoding")]++
		mu.Unlock()
		if !strings.Contains(r.Header.Get("Accept-Encoding"), "gzip") {
			f.ServeHTTP(w, r)
			return
		}
		w.Header().Set("Content-Encoding", "gzip")
		zw := gzip.NewWriter(w)
		defer zw.Close()
		f.ServeHTTP(gzipWriter{w, zw}, r)
	}))
	t.Cleanup(node.Close)

	rpcPort, metricsPort := freePort(t), freePort(t)
	cfg := filepath.Join(t.TempDir(), "evmgate.yaml")
	writeFile(t, cfg, strings.Replace(listeners(rpcPort, metricsPort), "log_requests: false", "log_requests: true", 1)+`log_format: json
request_timeout: 1s
max_batch_size: 2
networks:
  - name: mainnet
    chain_id: 1
    local_nodes:
      - rpc_endpoint: `+node.URL+`
        headers: {X-Node-Key: sesame}
        gzip: true
`)
	p := startProc(t, nil, "-config", cfg)
	p.waitOutput(p.stderr, `"msg":"gateway started"`, 2*time.Minute)
	base := "http://" + addr(rpcPort) + "/mainnet"

	t.Run("headers and gzip", func(t *testing.T) {
		if code, body := rpc(t, base, apmBlockNumber); code != 200 || body != `{"jsonrpc":"2.0","id":1,"result":"0x64"}` {
			t.Fatalf("a call answered in gzip: %d %q", code, body)
		}
		mu.Lock()
		defer mu.Unlock()
		if seen["X-Node-Key=sesame"] == 0 || seen["X-Node-Key="] != 0 {
			t.Errorf("the node's headers did not come with every request: %v", seen)
		}
		if seen["Accept-Encoding=gzip"] == 0 {
			t.Errorf("gzip: true did not ask the node for gzip: %v", seen)
		}
	})
	t.Run("max_batch_size", func(t *testing.T) {
		batch := `[` + apmBlockNumber + `,` + apmBlockNumber + `,` + apmBlockNumber + `]`
		code, body := rpc(t, base, batch)
		if code != 400 || !strings.Contains(body, `"code":-32053`) {
			t.Fatalf("a batch of 3 over max_batch_size 2: %d %s", code, body)
		}
		if code, body := rpc(t, base, `[`+apmBlockNumber+`,`+apmBlockNumber+`]`); code != 200 || strings.Count(body, `"result":"0x64"`) != 2 {
			t.Fatalf("a batch of 2: %d %s", code, body)
		}
	})
	t.Run("request_timeout", func(t *testing.T) {
		f.Hold("eth_call")
		defer f.Release("eth_call")
		start := time.Now()
		code, body := rpc(t, base, `{"jsonrpc":"2.0","id":7,"method":"eth_call","params":[{"to":"0x0000000000000000000000000000000000000001"},"latest"]}`)
		if code != 504 || !strings.Contains(body, `"code":-32052`) || !strings.Contains(body, `"id":7`) {
			t.Fatalf("a call the node holds past request_timeout 1s: %d %s", code, body)
		}
		if took := time.Since(start); took > 20*time.Second {
			t.Fatalf("the 504 came after %v, with request_timeout 1s", took)
		}
	})

	if code, _ := p.terminate(30 * time.Second); code != 0 {
		t.Fatalf("exit code %d after SIGTERM", code)
	}
	lines := strings.Split(strings.TrimSpace(p.stderr.String()), "\n")
	var completed int
	for _, line := range lines {
		var rec map[string]any
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatalf("log_format json: a line that is not JSON: %q", line)
		}
		if rec["msg"] == "request completed" {
			completed++
		}
	}
	if completed < 4 {
		t.Fatalf("%d request lines in the JSON log, want 4 or more:\n%s", completed, p.stderr.String())
	}
}
