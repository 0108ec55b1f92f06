package gateway_test

import (
	"crypto/tls"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/evmgate/evmgate/internal/certfile/certtest"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// Every listener serves TLS from its own section, and the limits: section's
// header limit applies to each of them.
func TestListenersServeTLSAndLimits(t *testing.T) {
	f := fakes(t, 1)
	dir := t.TempDir()
	ca := certtest.NewCA(t, "gateway test ca")
	rpcCert, rpcKey := ca.Server(t, "rpc").Write(t, dir, "rpc")
	engCert, engKey := ca.Server(t, "engine").Write(t, dir, "engine")
	secret := filepath.Join(dir, "jwt.hex")
	if err := os.WriteFile(secret, []byte(strings.Repeat("ab", 32)), 0o600); err != nil {
		t.Fatal(err)
	}
	g := startGateway(t, fmt.Sprintf("tls: {cert_file: %q, key_file: %q}\nlimits: {max_header_bytes: 4096}\n"+
		"engine:\n  enabled: true\n  jwt_secret: %s\n  nodes:\n    - url: %s\n  tls: {cert_file: %q, key_file: %q}\n",
		rpcCert, rpcKey, secret, f[0].URL(), engCert, engKey)+netYAML("", nodesYAML("local_nodes", f...)))
	n, err := testutil.GatherAndCount(g.Registry(), "evmgate_tls_certificate_expiry_timestamp_seconds")
	if err != nil || n != 2 {
		t.Errorf("certificate expiry series: %d, %v; want tls and engine.tls", n, err)
	}
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: ca.Pool()}}}
	for _, c := range []struct{ url, cn string }{
		{g.RPCURL() + "/health", "rpc"}, {g.MetricsURL() + "/health", "rpc"}, {g.EngineURL() + "/", "engine"},
	} {
		if !strings.HasPrefix(c.url, "https://127.0.0.1:") {
			t.Fatalf("%s is not an https URL", c.url)
		}
		resp, err := client.Get(c.url)
		if err != nil {
			t.Fatalf("GET %s: %v", c.url, err)
		}
		resp.Body.Close()
		if cn := resp.TLS.PeerCertificates[0].Subject.CommonName; cn != c.cn {
			t.Errorf("%s: certificate %q, want %q", c.url, cn, c.cn)
		}
		req, _ := http.NewRequest(http.MethodGet, c.url, nil)
		req.Header.Set("X-Big", strings.Repeat("a", 16<<10))
		resp, err = client.Do(req)
		if err != nil {
			t.Fatalf("GET %s with large headers: %v", c.url, err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusRequestHeaderFieldsTooLarge {
			t.Errorf("%s with 16 KiB of headers: %d, want 431", c.url, resp.StatusCode)
		}
	}
}
