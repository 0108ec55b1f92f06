package ws_test

import (
	"bytes"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/evmgate/evmgate/internal/attest/attesttest"
)

// attestedProxy puts a devnet node behind a TLS server on 127.0.0.1 that
// presents an attested certificate, and counts the requests that reach it
// (WebSocket upgrades included).
func attestedProxy(t *testing.T, snp *attesttest.SNP, target string, measurement []byte) (*attesttest.Server, *atomic.Int64) {
	t.Helper()
	u, err := url.Parse(target)
	if err != nil {
		t.Fatal(err)
	}
	u.Scheme = "http"
	var hits atomic.Int64
	rp := httputil.NewSingleHostReverseProxy(u)
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { hits.Add(1); rp.ServeHTTP(w, r) })
	return attesttest.NewServer(t, h, snp.Maker(t, measurement)), &hits
}

// TestAttestedWebSocketUpstream: a real node reached over wss:// through
// an attested TLS certificate feeds newHeads; the node whose attestation
// fails gets neither its WebSocket dialled nor a call.
func TestAttestedWebSocketUpstream(t *testing.T) {
	net := startNet(t, 2, 200*time.Millisecond)
	snp := attesttest.NewSNP(t)
	good, bad := bytes.Repeat([]byte{0x11}, 48), bytes.Repeat([]byte{0x22}, 48)
	nodes := net.Nodes()
	okHTTP, okHTTPHits := attestedProxy(t, snp, nodes[0].HTTPURL(), good)
	okWS, okWSHits := attestedProxy(t, snp, nodes[0].WSURL(), good)
	badHTTP, badHTTPHits := attestedProxy(t, snp, nodes[1].HTTPURL(), good)
	badWS, badWSHits := attestedProxy(t, snp, nodes[1].WSURL(), good)
	var b strings.Builder
	b.WriteString(snp.AttestationYAML(t))
	b.WriteString("log_level: WARN\nlog_requests: false\nnetworks:\n  - name: dev\n    chain_id: 1337\n")
	b.WriteString("    local_poll_interval: 100ms\n    rpc_timeout: 2s\n    local_nodes:\n")
	for _, n := range []struct {
		name, rpc, ws string
		m             []byte
	}{{"good", okHTTP.URL, okWS.URL, good}, {"bad", badHTTP.URL, badWS.URL, bad}} {
		fmt.Fprintf(&b, "      - rpc_endpoint: %q\n        ws_endpoint: %q\n        name: %s\n", n.rpc, strings.Replace(n.ws, "https://", "wss://", 1), n.name)
		fmt.Fprintf(&b, "        attestation: {type: sev-snp, measurements: [%q]}\n", hex.EncodeToString(n.m))
	}
	g := startGateway(t, b.String())

	c := dialWS(t, wsURL(g))
	_, heads := c.subscribe("newHeads")
	var last uint64
	for range 3 {
		select {
		case raw := <-heads:
			h := decodeHeader(t, raw)
			if n := h.num(t); n <= last {
				t.Fatalf("head %d after %d", n, last)
			} else {
				last = n
			}
		case <-time.After(20 * time.Second):
			t.Fatal("no newHeads notification through the attested node")
		}
	}
	if okWSHits.Load() == 0 || okHTTPHits.Load() == 0 {
		t.Fatalf("the attested node was not reached over wss (%d) and https (%d)", okWSHits.Load(), okHTTPHits.Load())
	}
	if m := c.call("eth_blockNumber"); m.Error != nil {
		t.Fatalf("eth_blockNumber: %s", m.Error.Message)
	}
	if badHTTPHits.Load() != 0 || badWSHits.Load() != 0 {
		t.Fatalf("the node failing attestation got %d HTTP and %d WebSocket requests", badHTTPHits.Load(), badWSHits.Load())
	}
}
