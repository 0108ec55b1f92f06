package deploy_test

import (
	"crypto/tls"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"sigs.k8s.io/yaml"

	"github.com/evmgate/evmgate/internal/certfile/certtest"
)

// TestHelmTLSAsProcess runs the binary with the configuration the chart
// renders for tls and access, its certificate in a directory laid out as the
// kubelet lays out a Secret volume (tls.crt -> ..data/tls.crt). Over HTTPS
// the probes' /health and /ready answer without an API key while a call
// without one is refused, and a renewal, which the kubelet delivers by
// swapping ..data, is served without a restart.
func TestHelmTLSAsProcess(t *testing.T) {
	t.Parallel()
	manifest, err := renderChart(map[string]any{
		"networks": []any{map[string]any{"name": "mainnet", "chain_id": 1,
			"local_nodes": []any{map[string]any{"name": "geth-0", "rpc_endpoint": "http://127.0.0.1:9"}}}},
		"secrets": map[string]any{"existingSecret": "evmgate-keys"},
		"tls":     map[string]any{"enabled": true, "secretName": "evmgate-tls"},
		"limits":  map[string]any{"max_connections_per_ip": 64},
		"access": map[string]any{"enabled": true,
			"keys": []any{map[string]any{"name": "partner-a", "key": "${PARTNER_A_KEY}"}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	o := parseObjects(t, "chart tls process", []byte(manifest))
	cm := o.configMap("evmgate")
	if cm == nil {
		t.Fatal("no ConfigMap evmgate")
	}
	var cfg map[string]any
	if err := yaml.Unmarshal([]byte(cm.Data["evmgate.yaml"]), &cfg); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	secretDir := filepath.Join(dir, "tls")
	ca := certtest.NewCA(t, "evmgate test ca")
	secretVolume(t, secretDir, "..2026_12_07_01_00_00.1", ca.Server(t, "first"))
	for _, f := range []string{"tls.crt", "tls.key"} {
		if err := os.Symlink(filepath.Join("..data", f), filepath.Join(secretDir, f)); err != nil {
			t.Fatal(err)
		}
	}
	tlsCfg := cfg["tls"].(map[string]any)
	for _, k := range []string{"cert_file", "key_file"} {
		tlsCfg[k] = filepath.Join(secretDir, filepath.Base(tlsCfg[k].(string)))
	}
	rpc, metrics := freePort(t), freePort(t)
	cfg["listen_addr"], cfg["port"], cfg["metrics_port"] = "127.0.0.1", rpc, metrics
	text, err := yaml.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(dir, "evmgate.yaml")
	if err := os.WriteFile(file, text, 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(evmgateBinary(t), "-config", file)
	cmd.Env = []string{"PARTNER_A_KEY=test-partner-a-key-0123456789"}
	var stderr strings.Builder
	cmd.Stdout, cmd.Stderr = io.Discard, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	defer func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("evmgate after SIGTERM: %v\n%s", err, stderr.String())
			}
		case <-time.After(60 * time.Second):
			_ = cmd.Process.Kill()
			t.Errorf("evmgate did not stop within 60s of SIGTERM")
		}
	}()

	// The kubelet does not verify a probe's certificate; the client below
	// does, against the test CA.
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: ca.Pool()}}}
	base := "https://127.0.0.1:" + strconv.Itoa(rpc)
	waitFor(t, 60*time.Second, "evmgate serving /health over HTTPS", func() bool { return status(client, "GET", base+"/health", "") == 200 })
	if code := status(client, "GET", base+"/ready", ""); code != 200 && code != 503 {
		t.Errorf("GET /ready over HTTPS without a key: %d, want 200 or 503 (ready or not, never refused)", code)
	}
	call := `{"jsonrpc":"2.0","id":1,"method":"eth_chainId","params":[]}`
	if code := status(client, "POST", base+"/mainnet", call); code != 401 {
		t.Errorf("call without a key: %d, want 401", code)
	}
	if code := status(client, "POST", base+"/mainnet/test-partner-a-key-0123456789", call); code == 401 || code == 403 {
		t.Errorf("call with the key: %d", code)
	}

	secretVolume(t, secretDir, "..2026_12_07_02_00_00.2", ca.Server(t, "renewed"))
	waitFor(t, 30*time.Second, "the renewed certificate served", func() bool {
		c, err := tls.Dial("tcp", "127.0.0.1:"+strconv.Itoa(rpc), &tls.Config{RootCAs: ca.Pool(), ServerName: "127.0.0.1"})
		if err != nil {
			return false
		}
		defer c.Close()
		return c.ConnectionState().PeerCertificates[0].Subject.CommonName == "renewed"
	})
}

// secretVolume writes a version of a kubernetes.io/tls Secret volume into
// dir as the kubelet does: the files in a new timestamped directory, then
// ..data pointed at it through a rename of ..data_tmp.
func secretVolume(t *testing.T, dir, version string, p certtest.Pair) {
	t.Helper()
	sub := filepath.Join(dir, version)
	if err := os.MkdirAll(sub, 0o755); err != nil {
		t.Fatal(err)
	}
	for f, data := range map[string][]byte{"tls.crt": p.CertPEM, "tls.key": p.KeyPEM} {
		if err := os.WriteFile(filepath.Join(sub, f), data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Symlink(version, filepath.Join(dir, "..data_tmp")); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(filepath.Join(dir, "..data_tmp"), filepath.Join(dir, "..data")); err != nil {
		t.Fatal(err)
	}
}

// status is the HTTP status of one request (0 when it fails).
func status(c *http.Client, method, url, body string) int {
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		return 0
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.Do(req)
	if err != nil {
		return 0
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	return resp.StatusCode
}

// waitFor polls ok until it holds or limit passes.
func waitFor(t *testing.T, limit time.Duration, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", limit, what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
