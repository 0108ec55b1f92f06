//go:build !nodemo

package main

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/evmgate/evmgate/internal/certfile/certtest"
	"github.com/evmgate/evmgate/internal/devnet"
)

// The binary serves https and wss from certificate files in front of a real
// node; a certificate replaced on disk is what the next handshake sees,
// without a restart; the admin API with client_ca_file refuses a client
// without a certificate and serves one with a certificate of that CA.
func TestTLSAsProcess(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
	defer cancel()
	dn, err := devnet.Start(ctx, devnet.Config{Nodes: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer dn.Close()
	dir := t.TempDir()
	ca, clients := certtest.NewCA(t, "evmgate test ca"), certtest.NewCA(t, "evmgate test clients")
	certFile, keyFile := ca.Server(t, "first").Write(t, dir, "rpc")
	adminCert, adminKey := ca.Server(t, "admin").Write(t, dir, "admin")
	clientCA := filepath.Join(dir, "clients.pem")
	certtest.WriteFile(t, clientCA, clients.CertPEM)
	rpcPort, metricsPort, adminPort := freePort(t), freePort(t), freePort(t)
	cfg := filepath.Join(dir, "evmgate.yaml")
	writeFile(t, cfg, listeners(rpcPort, metricsPort)+fmt.Sprintf(`tls:
  cert_file: %q
  key_file: %q
admin:
  listen: %q
  tls:
    cert_file: %q
    key_file: %q
    client_ca_file: %q
networks:
  - name: devnet
    local_nodes:
      - rpc_endpoint: %q
`, certFile, keyFile, addr(adminPort), adminCert, adminKey, clientCA, dn.Nodes()[0].HTTPURL()))
	p := startProc(t, nil, "-config", cfg)
	p.waitOutput(p.stderr, "gateway started", 2*time.Minute)

	// Each client gets its own tls.Config: an http.Transport adds its ALPN
	// protocols to the one it is given.
	roots := func() *tls.Config { return &tls.Config{RootCAs: ca.Pool()} }
	client := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{TLSClientConfig: roots(), ForceAttemptHTTP2: true}}
	base := "https://" + addr(rpcPort)
	resp := post(t, client, base+"/devnet", chainIDCall)
	if resp.status != 200 || !strings.Contains(resp.body, `"result":"0x`) || resp.proto != "HTTP/2.0" || resp.cn != "first" {
		t.Fatalf("https call: %+v", resp)
	}
	wssCall(ctx, t, "wss://"+addr(rpcPort)+"/devnet", roots())
	if code := getWith(t, client, "https://"+addr(metricsPort)+"/metrics"); code != 200 {
		t.Fatalf("https /metrics: %d", code)
	}

	ca.Server(t, "second").Write(t, dir, "rpc")
	eventually(t, 30*time.Second, "a handshake with the new certificate", func() bool {
		return serverCN(t, addr(rpcPort), roots()) == "second"
	})
	if r := post(t, client, base+"/devnet", chainIDCall); r.status != 200 {
		t.Fatalf("https call after the certificate changed: %+v", r)
	}
	wssCall(ctx, t, "wss://"+addr(rpcPort)+"/devnet", roots())

	adminURL := "https://" + addr(adminPort) + "/admin/networks"
	noCert := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{TLSClientConfig: roots()}}
	if resp, err := noCert.Get(adminURL); err == nil {
		resp.Body.Close()
		t.Fatalf("admin API without a client certificate: %d, want the handshake refused", resp.StatusCode)
	} else if !strings.Contains(err.Error(), "tls: ") {
		t.Fatalf("admin API without a client certificate: %v, want a TLS alert from the server", err)
	}
	pair := clients.Client(t, "operator")
	cert, err := tls.X509KeyPair(pair.CertPEM, pair.KeyPEM)
	if err != nil {
		t.Fatal(err)
	}
	withCert := roots()
	withCert.Certificates = []tls.Certificate{cert}
	admin := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{TLSClientConfig: withCert}}
	if code := getWith(t, admin, adminURL); code != 200 {
		t.Fatalf("admin API with a client certificate: %d", code)
	}
	if code, took := p.terminate(30 * time.Second); code != 0 {
		t.Fatalf("exit code %d after SIGTERM (%v)", code, took)
	}
}

// A tls: section whose files are wrong stops the start with an error naming
// the key and the fix.
func TestTLSStartErrorsAsProcess(t *testing.T) {
	dir := t.TempDir()
	ca := certtest.NewCA(t, "evmgate test ca")
	certFile, keyFile := ca.Server(t, "one").Write(t, dir, "one")
	_, otherKey := ca.Server(t, "two").Write(t, dir, "two")
	for _, c := range []struct{ cert, key, want string }{
		{filepath.Join(dir, "missing.crt"), keyFile, "tls.cert_file: " + filepath.Join(dir, "missing.crt") + " does not exist"},
		{keyFile, keyFile, "tls.cert_file: " + keyFile + " holds no PEM certificate"},
		{certFile, otherKey, "must be the private key of the first certificate"},
	} {
		cfg := filepath.Join(dir, "evmgate.yaml")
		writeFile(t, cfg, listeners(freePort(t), freePort(t))+fmt.Sprintf("tls:\n  cert_file: %q\n  key_file: %q\n", c.cert, c.key)+
			"networks:\n  - name: n\n    local_nodes:\n      - rpc_endpoint: http://127.0.0.1:1\n")
		code, _, stderr := runProc(t, "-config", cfg)
		if code == 0 || !strings.Contains(stderr, c.want) {
			t.Errorf("exit %d, stderr %q, want %q", code, stderr, c.want)
		}
	}
}

type answer struct {
	status    int
	body      string
	proto, cn string
}

func post(t *testing.T, c *http.Client, url, body string) answer {
	t.Helper()
	resp, err := c.Post(url, "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatalf("POST %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	a := answer{status: resp.StatusCode, body: string(b), proto: resp.Proto}
	if resp.TLS != nil {
		a.cn = resp.TLS.PeerCertificates[0].Subject.CommonName
	}
	return a
}

func getWith(t *testing.T, c *http.Client, url string) int {
	t.Helper()
	resp, err := c.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	return resp.StatusCode
}

// serverCN is the common name of the certificate a new handshake sees.
func serverCN(t *testing.T, hostport string, roots *tls.Config) string {
	t.Helper()
	c, err := tls.DialWithDialer(&net.Dialer{Timeout: 10 * time.Second}, "tcp", hostport, roots)
	if err != nil {
		t.Fatalf("handshake with %s: %v", hostport, err)
	}
	defer c.Close()
	return c.ConnectionState().PeerCertificates[0].Subject.CommonName
}

// wssCall asks eth_chainId over a new wss connection.
func wssCall(ctx context.Context, t *testing.T, url string, roots *tls.Config) {
	t.Helper()
	hc := &http.Client{Transport: &http.Transport{TLSClientConfig: roots, ForceAttemptHTTP2: true}}
	c, _, err := websocket.Dial(ctx, url, &websocket.DialOptions{HTTPClient: hc})
	if err != nil {
		t.Fatalf("dialing %s: %v", url, err)
	}
	defer c.CloseNow()
	if err := c.Write(ctx, websocket.MessageText, []byte(chainIDCall)); err != nil {
		t.Fatal(err)
	}
	_, msg, err := c.Read(ctx)
	if err != nil || !strings.Contains(string(msg), `"result":"0x`) {
		t.Fatalf("wss answer: %s %v", msg, err)
	}
}
