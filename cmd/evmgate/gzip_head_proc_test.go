//go:build !nodemo

package main

import (
	"crypto/tls"
	"fmt"
	"net/http"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/evmgate/evmgate/internal/certfile/certtest"
)

// A HEAD request carries the headers its GET would, Vary among them: while
// response_compression is on, HEAD answers on the JSON-RPC port (HTTP/1.1,
// which the fast server hands to net/http's, and HTTP/2) carry
// Vary: Accept-Encoding as their GET and POST answers do, and the metrics
// listener's as its GET does; none on the JSON-RPC port once a reload
// turns compression off.
func TestResponseCompressionHeadVaryAsProcess(t *testing.T) {
	dir := t.TempDir()
	ca := certtest.NewCA(t, "evmgate head ca")
	certFile, keyFile := ca.Server(t, "head").Write(t, dir, "rpc")
	rpcPort, metricsPort := freePort(t), freePort(t)
	yaml := func(compression string) string {
		return listeners(rpcPort, metricsPort) + compression + fmt.Sprintf("tls:\n  cert_file: %q\n  key_file: %q\n", certFile, keyFile) +
			"networks:\n  - name: devnet\n    local_nodes:\n      - name: node0\n        rpc_endpoint: http://127.0.0.1:1\n"
	}
	cfg := filepath.Join(dir, "evmgate.yaml")
	writeFile(t, cfg, yaml(""))
	p := startProc(t, nil, "-config", cfg)
	p.waitOutput(p.stderr, "gateway started", 2*time.Minute)

	h1 := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{DisableCompression: true,
		TLSClientConfig: &tls.Config{RootCAs: ca.Pool()}, TLSNextProto: map[string]func(string, *tls.Conn) http.RoundTripper{}}}
	h2 := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{DisableCompression: true,
		TLSClientConfig: &tls.Config{RootCAs: ca.Pool()}, ForceAttemptHTTP2: true}}
	url := "https://" + addr(rpcPort) + "/devnet"
	for _, c := range []struct {
		proto  string
		client *http.Client
	}{{"HTTP/1.1", h1}, {"HTTP/2.0", h2}} {
		for _, ae := range []string{"gzip", ""} {
			get := doRaw(t, c.client, http.MethodGet, url, ae, "")
			head := doRaw(t, c.client, http.MethodHead, url, ae, "")
			if head.proto != c.proto || head.status != get.status || head.vary != "Accept-Encoding" || get.vary != "Accept-Encoding" || len(head.body) != 0 {
				t.Errorf("%s, Accept-Encoding %q: HEAD %d, Vary %q, %d body bytes; GET %d, Vary %q; want both with Vary: Accept-Encoding",
					c.proto, ae, head.status, head.vary, len(head.body), get.status, get.vary)
			}
		}
	}
	metrics := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{DisableCompression: true, TLSClientConfig: &tls.Config{RootCAs: ca.Pool()}}}
	murl := "https://" + addr(metricsPort) + "/metrics" // the metrics listener shares the tls: section
	get, head := doRaw(t, metrics, http.MethodGet, murl, "gzip", ""), doRaw(t, metrics, http.MethodHead, murl, "gzip", "")
	if head.status != 200 || head.vary != get.vary || !strings.Contains(head.vary, "Accept-Encoding") {
		t.Errorf("metrics: HEAD %d, Vary %q; GET Vary %q", head.status, head.vary, get.vary)
	}

	writeFile(t, cfg, yaml("response_compression:\n  enabled: false\n"))
	p.signal(syscall.SIGHUP)
	p.waitCount(p.stderr, "configuration reloaded", 1, time.Minute)
	for _, c := range []*http.Client{h1, h2} {
		if a := doRaw(t, c, http.MethodHead, url, "gzip", ""); a.vary != "" {
			t.Errorf("%s, HEAD, compression off: Vary %q", a.proto, a.vary)
		}
	}
	if code, took := p.terminate(30 * time.Second); code != 0 {
		t.Fatalf("exit code %d after SIGTERM (%v)", code, took)
	}
}
