package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/evmgate/evmgate/internal/redistest"
)

const (
	apmBlockNumber = `{"jsonrpc":"2.0","id":1,"method":"eth_blockNumber","params":[]}`
	apmTrace       = `{"jsonrpc":"2.0","id":1,"method":"debug_traceTransaction","params":["0x01"]}`
	apmGetLogs     = `{"jsonrpc":"2.0","id":1,"method":"eth_getLogs","params":[{"fromBlock":"0x64","toBlock":"0x64"}]}`

	apmNoDebugKey = "proc-nodebug-0123456789abcdef"
	apmQuotaKey   = "proc-quota-0123456789abcdef"
	apmCostlyKey  = "proc-costly-0123456789abcdef"
	apmSharedKey  = "proc-shared-0123456789abcdef"
)

// apmDo sends one request with headers (name, value pairs) and returns the
// status, the answer's headers and its body.
func apmDo(t *testing.T, method, url, body string, hdr ...string) (int, http.Header, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("reading the answer of %s: %v", url, err)
	}
	return resp.StatusCode, resp.Header, string(b)
}

// One gateway with keys and access policy: a key's wildcard deny, a daily
// quota, a cost over the burst, the per-IP limit behind a trusted proxy,
// and CORS preflights, each checked over real HTTP.
func TestAccessPolicyAsProcess(t *testing.T) {
	f := fakeNodes(t, 1, 1)[0]
	rpcPort, metricsPort := freePort(t), freePort(t)
	cfg := filepath.Join(t.TempDir(), "evmgate.yaml")
	writeFile(t, cfg, listeners(rpcPort, metricsPort)+`networks:
  - name: mainnet
    local_nodes:
      - rpc_endpoint: `+f.URL()+`
access:
  require_key: false
  keys:
    - name: nodebug
      key: ${NODEBUG_KEY}
      methods: {deny: ["debug_*"]}
    - name: quota
      key: ${QUOTA_KEY}
      daily_quota: 2
    - name: costly
      key: ${COSTLY_KEY}
      limit: {rate: 0.001, burst: 5}
  costs: {eth_getLogs: 10}
  per_ip: {rate: 0.001, burst: 5}
  trusted_proxies: [127.0.0.1/32]
  cors_origins: ["https://app.example"]
`)
	p := startProc(t, []string{"NODEBUG_KEY=" + apmNoDebugKey, "QUOTA_KEY=" + apmQuotaKey, "COSTLY_KEY=" + apmCostlyKey}, "-config", cfg)
	p.waitOutput(p.stderr, "gateway started", 2*time.Minute)
	base := "http://" + addr(rpcPort) + "/mainnet"
	// Every part but the per-IP one comes through the trusted proxy from
	// its own client address, so the per-IP buckets do not mix.
	xff := func(last int) string { return fmt.Sprintf("198.51.100.%d", last) }

	t.Run("key denies debug_*", func(t *testing.T) {
		code, _, body := apmDo(t, http.MethodPost, base, apmTrace, "X-API-Key", apmNoDebugKey, "X-Forwarded-For", xff(1))
		if code != http.StatusForbidden || !strings.Contains(body, `"code":-32071`) ||
			!strings.Contains(body, `the API key \"nodebug\" may not call method \"debug_traceTransaction\"`) {
			t.Fatalf("debug_traceTransaction with the key denying debug_*: %d %s", code, body)
		}
		if n := f.Calls("debug_traceTransaction"); n != 0 {
			t.Fatalf("the denied call reached the node %d times", n)
		}
		code, _, body = apmDo(t, http.MethodPost, base, apmBlockNumber, "X-API-Key", apmNoDebugKey, "X-Forwarded-For", xff(1))
		if code != http.StatusOK || !strings.Contains(body, `"result":"0x64"`) {
			t.Fatalf("eth_blockNumber with the key denying debug_*: %d %s", code, body)
		}
	})

	t.Run("daily quota of 2", func(t *testing.T) {
		for i := 1; i <= 2; i++ {
			code, _, body := apmDo(t, http.MethodPost, base, apmBlockNumber, "X-API-Key", apmQuotaKey, "X-Forwarded-For", xff(2))
			if code != http.StatusOK || !strings.Contains(body, `"result":"0x64"`) {
				t.Fatalf("call %d within the quota: %d %s", i, code, body)
			}
		}
		code, hdr, body := apmDo(t, http.MethodPost, base, apmBlockNumber, "X-API-Key", apmQuotaKey, "X-Forwarded-For", xff(2))
		if code != http.StatusTooManyRequests || !strings.Contains(body, `"code":-32074`) || hdr.Get("Retry-After") == "" ||
			!strings.Contains(body, `the daily quota of API key \"quota\" is used up`) {
			t.Fatalf("third call over a daily quota of 2: %d %v %s", code, hdr, body)
		}
	})

	t.Run("cost over the burst", func(t *testing.T) {
		code, _, body := apmDo(t, http.MethodPost, base, apmGetLogs, "X-API-Key", apmCostlyKey, "X-Forwarded-For", xff(3))
		if code != http.StatusTooManyRequests || !strings.Contains(body, `"code":-32073`) ||
			!strings.Contains(body, "the call costs 10 units, more than the burst 5") {
			t.Fatalf("eth_getLogs costing 10 with a burst of 5: %d %s", code, body)
		}
		if n := f.Calls("eth_getLogs"); n != 0 {
			t.Fatalf("the refused eth_getLogs reached the node %d times", n)
		}
		code, _, body = apmDo(t, http.MethodPost, base, apmBlockNumber, "X-API-Key", apmCostlyKey, "X-Forwarded-For", xff(3))
		if code != http.StatusOK || !strings.Contains(body, `"result":"0x64"`) {
			t.Fatalf("eth_blockNumber costing 1 with a burst of 5: %d %s", code, body)
		}
	})

	t.Run("per-IP limit of the forwarded address", func(t *testing.T) {
		const client = "203.0.113.7"
		for i := 1; i <= 5; i++ {
			code, _, body := apmDo(t, http.MethodPost, base, apmBlockNumber, "X-Forwarded-For", client)
			if code != http.StatusOK {
				t.Fatalf("call %d from %s within its burst of 5: %d %s", i, client, code, body)
			}
		}
		code, hdr, body := apmDo(t, http.MethodPost, base, apmBlockNumber, "X-Forwarded-For", client)
		if code != http.StatusTooManyRequests || !strings.Contains(body, `"code":-32073`) || hdr.Get("Retry-After") == "" ||
			!strings.Contains(body, "rate limit of this client IP exceeded") {
			t.Fatalf("sixth call from %s: %d %v %s", client, code, hdr, body)
		}
		// The same proxy (127.0.0.1) forwarding another client, and the
		// proxy calling for itself, have buckets of their own.
		if code, _, body := apmDo(t, http.MethodPost, base, apmBlockNumber, "X-Forwarded-For", "203.0.113.8"); code != http.StatusOK {
			t.Fatalf("another forwarded client: %d %s", code, body)
		}
		if code, _, body := apmDo(t, http.MethodPost, base, apmBlockNumber); code != http.StatusOK {
			t.Fatalf("the proxy's own address: %d %s", code, body)
		}
	})

	t.Run("CORS preflight", func(t *testing.T) {
		code, hdr, body := apmDo(t, http.MethodOptions, base, "", "Origin", "https://app.example", "Access-Control-Request-Method", "POST")
		if code != http.StatusNoContent || hdr.Get("Access-Control-Allow-Origin") != "https://app.example" ||
			!strings.Contains(hdr.Get("Access-Control-Allow-Headers"), "X-API-Key") {
			t.Fatalf("preflight of an allowed origin: %d %v %s", code, hdr, body)
		}
		code, hdr, body = apmDo(t, http.MethodOptions, base, "", "Origin", "https://evil.example", "Access-Control-Request-Method", "POST")
		if code != http.StatusForbidden || hdr.Get("Access-Control-Allow-Origin") != "" {
			t.Fatalf("preflight of another origin: %d %v %s", code, hdr, body)
		}
	})

	if code, took := p.terminate(30 * time.Second); code != 0 {
		t.Fatalf("exit code %d after SIGTERM (%v)", code, took)
	}
	logs := p.stdout.String() + p.stderr.String()
	for _, k := range []string{apmNoDebugKey, apmQuotaKey, apmCostlyKey} {
		if strings.Contains(logs, k) {
			t.Fatal("a key was logged")
		}
	}
}

// With shared limits in a real Redis and redis_fail_mode closed, calls are
// served while Redis is up and refused with 503 / -32075 once it is gone;
// they are served again when Redis is back.
func TestSharedLimitsFailClosedAsProcess(t *testing.T) {
	rs := redistest.New(t)
	rs.Start()
	f := fakeNodes(t, 1, 1)[0]
	rpcPort, metricsPort := freePort(t), freePort(t)
	cfg := filepath.Join(t.TempDir(), "evmgate.yaml")
	writeFile(t, cfg, listeners(rpcPort, metricsPort)+`redis_url: `+rs.URL()+`
networks:
  - name: mainnet
    local_nodes:
      - rpc_endpoint: `+f.URL()+`
access:
  keys:
    - name: shared
      key: ${SHARED_KEY}
      limit: {rate: 1000, burst: 1000}
  shared_limits: true
  redis_fail_mode: closed
`)
	p := startProc(t, []string{"SHARED_KEY=" + apmSharedKey}, "-config", cfg)
	p.waitOutput(p.stderr, "gateway started", 2*time.Minute)
	url := "http://" + addr(rpcPort) + "/mainnet/" + apmSharedKey

	for i := 1; i <= 3; i++ {
		if code, body := rpc(t, url, apmBlockNumber); code != http.StatusOK || !strings.Contains(body, `"result":"0x64"`) {
			t.Fatalf("call %d while Redis is up: %d %s", i, code, body)
		}
	}
	rs.Stop()
	var code int
	var body string
	eventually(t, 30*time.Second, "a call refused with 503 while Redis is down", func() bool {
		code, body = rpc(t, url, apmBlockNumber)
		return code == http.StatusServiceUnavailable
	})
	if !strings.Contains(body, `"code":-32075`) || !strings.Contains(body, "rate limits cannot be checked now") {
		t.Fatalf("call while Redis is down: %d %s", code, body)
	}
	p.waitOutput(p.stderr, "fail-closed: calls are refused with 503 meanwhile", 30*time.Second)

	rs.Start()
	eventually(t, 60*time.Second, "calls served again once Redis is back", func() bool {
		code, body = rpc(t, url, apmBlockNumber)
		return code == http.StatusOK && strings.Contains(body, `"result":"0x64"`)
	})
	if code, took := p.terminate(30 * time.Second); code != 0 {
		t.Fatalf("exit code %d after SIGTERM (%v)", code, took)
	}
}

// limits.max_header_bytes and limits.idle_timeout, set in the file, apply
// to the JSON-RPC listener.
func TestLimitsKeysAsProcess(t *testing.T) {
	f := fakeNodes(t, 1, 1)[0]
	rpcPort, metricsPort := freePort(t), freePort(t)
	cfg := filepath.Join(t.TempDir(), "evmgate.yaml")
	writeFile(t, cfg, listeners(rpcPort, metricsPort)+`limits:
  max_header_bytes: 4096
  idle_timeout: 1s
networks:
  - name: mainnet
    local_nodes:
      - rpc_endpoint: `+f.URL()+`
`)
	p := startProc(t, nil, "-config", cfg)
	p.waitOutput(p.stderr, "gateway started", 2*time.Minute)
	base := "http://" + addr(rpcPort) + "/mainnet"

	t.Run("max_header_bytes 4096", func(t *testing.T) {
		// The server hangs up after the 431 with the request unread, so
		// only the status is read, not the body (it may be cut by a reset).
		req, err := http.NewRequest(http.MethodPost, base, strings.NewReader(apmBlockNumber))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("X-Big", strings.Repeat("a", 8<<10))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusRequestHeaderFieldsTooLarge {
			t.Fatalf("8 KiB of headers: %d, want 431", resp.StatusCode)
		}
		code, _, body := apmDo(t, http.MethodPost, base, apmBlockNumber)
		if code != http.StatusOK || !strings.Contains(body, `"result":"0x64"`) {
			t.Fatalf("normal headers: %d %s", code, body)
		}
	})

	t.Run("idle_timeout 1s", func(t *testing.T) {
		c, err := net.DialTimeout("tcp", addr(rpcPort), 10*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		req := fmt.Sprintf("POST /mainnet HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s",
			addr(rpcPort), len(apmBlockNumber), apmBlockNumber)
		_ = c.SetDeadline(time.Now().Add(30 * time.Second))
		if _, err := io.WriteString(c, req); err != nil {
			t.Fatal(err)
		}
		br := bufio.NewReader(c)
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil || resp.StatusCode != http.StatusOK || resp.Close || !strings.Contains(string(b), `"result":"0x64"`) {
			t.Fatalf("the call before idling: %d close=%v %s %v", resp.StatusCode, resp.Close, b, err)
		}
		// Now idle: the server must close the connection on its own.
		start := time.Now()
		_ = c.SetReadDeadline(start.Add(15 * time.Second))
		n, err := br.Read(make([]byte, 1))
		took := time.Since(start)
		if n != 0 || !(errors.Is(err, io.EOF) || errors.Is(err, syscall.ECONNRESET)) {
			t.Fatalf("idle keep-alive connection after %v: read %d bytes, err %v; want it closed by the server", took, n, err)
		}
		if took < 500*time.Millisecond {
			t.Fatalf("the idle connection was closed after %v, before idle_timeout", took)
		}
		t.Logf("idle keep-alive connection closed by the server after %v", took)
	})

	if code, took := p.terminate(30 * time.Second); code != 0 {
		t.Fatalf("exit code %d after SIGTERM (%v)", code, took)
	}
}
