package deploy_test

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/evmgate/evmgate/internal/fakenode"
	"github.com/evmgate/evmgate/internal/freeport"
)

// podman runs podman with a configuration and a storage of the test's own,
// so nothing of the machine's container setup is read or changed.
type podman struct {
	t   *testing.T
	bin string
	env []string
}

func newPodman(t *testing.T) *podman {
	t.Helper()
	bin := needProgram(t, "podman", "podman")
	needProgram(t, "runc", "runc")
	dir := t.TempDir()
	for _, d := range []string{"root", "run", "tmp", "net"} {
		if err := os.Mkdir(filepath.Join(dir, d), 0o700); err != nil {
			t.Fatal(err)
		}
	}
	// runc, cgroupfs and explicit limits: crun cannot set limits or cgroups
	// in every sandbox. vfs needs no kernel overlay support.
	conf := fmt.Sprintf(`[containers]
default_ulimits = ["nofile=1024:1024", "nproc=1024:1024"]
[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"
tmp_dir = %q
[network]
network_config_dir = %q
`, filepath.Join(dir, "tmp"), filepath.Join(dir, "net"))
	storage := fmt.Sprintf("[storage]\ndriver = \"vfs\"\ngraphroot = %q\nrunroot = %q\n",
		filepath.Join(dir, "root"), filepath.Join(dir, "run"))
	write(t, filepath.Join(dir, "containers.conf"), conf)
	write(t, filepath.Join(dir, "storage.conf"), storage)
	env := append(os.Environ(),
		"CONTAINERS_CONF="+filepath.Join(dir, "containers.conf"),
		"CONTAINERS_STORAGE_CONF="+filepath.Join(dir, "storage.conf"),
	)
	return &podman{t: t, bin: bin, env: env}
}

// needProgram finds a program that a Debian package installs: missing, it
// fails the test under CI=true and skips it elsewhere.
func needProgram(t *testing.T, name, pkg string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s not found (install the Debian package %s): %v", name, pkg, err)
		}
		t.Skipf("%s not found (apt-get install -y podman buildah runc): %v", name, err)
	}
	return p
}

func write(t *testing.T, path, text string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
}

// run runs podman and returns its standard output, failing the test on error.
func (p *podman) run(args ...string) string {
	p.t.Helper()
	out, err := p.try(args...)
	if err != nil {
		p.t.Fatalf("podman %s: %v", strings.Join(args, " "), err)
	}
	return out
}

func (p *podman) try(args ...string) (string, error) {
	cmd := exec.Command(p.bin, args...)
	cmd.Env = p.env
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return string(out), fmt.Errorf("%v: %s", err, stderr.String())
	}
	return strings.TrimSpace(string(out)), nil
}

// TestContainerImage builds the image with deploy/build-image.sh, runs it
// read-only, without capabilities and on the host network against fake nodes
// on 127.0.0.1 (one of them over https with a test CA in the image's CA bundle
// path), and checks JSON-RPC, /health, /ready and /metrics through it, the
// user it runs as, a clean stop on SIGTERM, and `validate` in the image.
func TestContainerImage(t *testing.T) {
	pm := newPodman(t)
	image := "localhost/evmgate-test:" + randomHex(t, 4)
	start := time.Now()
	build := exec.Command("./build-image.sh", image)
	build.Env = append(pm.env, "CONTAINER_TOOL="+pm.bin, "VERSION=test")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build-image.sh: %v\n%s", err, out)
	}
	buildTime := time.Since(start)
	t.Cleanup(func() { pm.try("rmi", "-f", image) })

	var infos []struct {
		Size   int64
		Config struct{ User string }
	}
	inspectJSON(t, pm.run("image", "inspect", image), &infos)
	if len(infos) != 1 {
		t.Fatalf("podman image inspect: %d images", len(infos))
	}
	info := infos[0]
	t.Logf("image %s: %.1f MB, built in %s (go build and podman build)", image, float64(info.Size)/1e6, buildTime.Round(100*time.Millisecond))
	if info.Config.User != "65532:65532" {
		t.Errorf("image user %q, want 65532:65532", info.Config.User)
	}
	checkBundle(t, pm, image)

	dir := t.TempDir()
	cfgFile, caFile, rpc, metricsPort := imageConfig(t, dir)
	mounts := []string{
		"-v", cfgFile + ":/etc/evmgate/evmgate.yaml:ro",
		"-v", caFile + ":/etc/ssl/certs/ca-certificates.crt:ro",
	}
	out := pm.run(append(append([]string{"run", "--rm", "--network", "host"}, mounts...), image, "validate", "-config", "/etc/evmgate/evmgate.yaml")...)
	if !strings.Contains(out, "is valid: 1 network(s), 3 node(s)") {
		t.Errorf("validate in the image: %q", out)
	}

	name := "evmgate-test-" + randomHex(t, 4)
	t.Cleanup(func() { pm.try("rm", "-f", "-t", "0", name) })
	pm.run(append(append([]string{"run", "-d", "--name", name, "--network", "host",
		"--read-only", "--cap-drop", "ALL", "--security-opt", "no-new-privileges"}, mounts...), image)...)
	base := "http://127.0.0.1:" + strconv.Itoa(rpc)
	if err := waitReady(base+"/ready", 90*time.Second); err != nil {
		logs, _ := pm.try("logs", name)
		t.Fatalf("the container never got ready: %v\n%s", err, logs)
	}
	checkServing(t, base, "http://127.0.0.1:"+strconv.Itoa(metricsPort))
	checkProcess(t, pm.run("inspect", "--format", "{{.State.Pid}}", name))

	pm.run("stop", "-t", "30", name)
	if code := pm.run("inspect", "--format", "{{.State.ExitCode}}", name); code != "0" {
		logs, _ := pm.try("logs", name)
		t.Errorf("exit code %s after SIGTERM, want 0\n%s", code, logs)
	}
	pm.run("rm", name)
}

// checkBundle compares the image's CA bundle with the host's.
func checkBundle(t *testing.T, pm *podman, image string) {
	t.Helper()
	name := "evmgate-test-ca-" + randomHex(t, 4)
	pm.run("create", "--name", name, image)
	defer pm.try("rm", "-f", name)
	out := filepath.Join(t.TempDir(), "ca.crt")
	pm.run("cp", name+":/etc/ssl/certs/ca-certificates.crt", out)
	got, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	want, err := os.ReadFile("/etc/ssl/certs/ca-certificates.crt")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("the image's CA bundle (%d bytes) is not the host's (%d bytes)", len(got), len(want))
	}
}

// imageConfig starts three fake nodes, the third behind TLS, and writes a
// configuration for them and a CA bundle that holds the TLS node's
// certificate.
func imageConfig(t *testing.T, dir string) (cfgFile, caFile string, rpc, metrics int) {
	t.Helper()
	var urls []string
	for i := range 3 {
		n, err := fakenode.Start(fakenode.Options{Name: fmt.Sprint("node", i), ChainID: 1, Head: 100})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(n.Close)
		urls = append(urls, n.URL())
		if i == 2 {
			tls := httptest.NewTLSServer(n)
			t.Cleanup(tls.Close)
			urls[i] = tls.URL
			caFile = filepath.Join(dir, "ca.crt")
			write(t, caFile, string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: tls.Certificate().Raw})))
		}
	}
	rpc, metrics = freePort(t), freePort(t)
	cfgFile = filepath.Join(dir, "evmgate.yaml")
	write(t, cfgFile, fmt.Sprintf(`port: %d
listen_addr: 127.0.0.1
metrics_port: %d
log_format: json
networks:
  - name: testnet
    chain_id: 1
    local_poll_interval: 200ms
    local_nodes:
      - {name: local-0, rpc_endpoint: %q}
      - {name: local-1, rpc_endpoint: %q}
    fallback_nodes:
      - {name: tls-provider, rpc_endpoint: %q}
`, rpc, metrics, urls[0], urls[1], urls[2]))
	return cfgFile, caFile, rpc, metrics
}

// waitReady polls url until it answers 200: the container gives no signal
// of its own.
func waitReady(url string, limit time.Duration) error {
	deadline := time.Now().Add(limit)
	var last error
	for time.Now().Before(deadline) {
		resp, err := http.Get(url)
		if err == nil {
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
			err = fmt.Errorf("status %d", resp.StatusCode)
		}
		last = err
		time.Sleep(100 * time.Millisecond)
	}
	return last
}

// checkServing calls the gateway in the container.
func checkServing(t *testing.T, base, metricsBase string) {
	t.Helper()
	resp, err := http.Post(base+"/testnet", "application/json", strings.NewReader(`{"jsonrpc":"2.0","id":7,"method":"eth_blockNumber","params":[]}`))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), `"result":"0x64"`) || !strings.Contains(string(body), `"id":7`) {
		t.Errorf("eth_blockNumber through the container: %d %s", resp.StatusCode, body)
	}
	for _, u := range []string{base + "/health", base + "/ready", metricsBase + "/health", metricsBase + "/metrics"} {
		resp, err := http.Get(u)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Errorf("GET %s: %d %s", u, resp.StatusCode, body)
		}
		if strings.HasSuffix(u, "/metrics") && !strings.Contains(string(body), "evmgate_node_state") {
			t.Errorf("GET %s has no evmgate_node_state", u)
		}
	}
	// The https node is probed through the CA bundle at the image's path.
	var st struct {
		Networks []struct {
			Nodes []struct{ Name, State string }
		}
	}
	deadline := time.Now().Add(60 * time.Second)
	for {
		resp, err := http.Get(metricsBase + "/status")
		if err != nil {
			t.Fatal(err)
		}
		err = json.NewDecoder(resp.Body).Decode(&st)
		resp.Body.Close()
		if err != nil {
			t.Fatal(err)
		}
		if tlsState(st.Networks[0].Nodes) == "up" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the https node is %q, want up: %+v", tlsState(st.Networks[0].Nodes), st)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func tlsState(nodes []struct{ Name, State string }) string {
	for _, n := range nodes {
		if n.Name == "tls-provider" {
			return n.State
		}
	}
	return "missing"
}

// checkProcess reads the container's main process from /proc: it runs as
// uid 65532 with no capabilities.
func checkProcess(t *testing.T, pid string) {
	t.Helper()
	status, err := os.ReadFile("/proc/" + pid + "/status")
	if err != nil {
		t.Fatal(err)
	}
	fields := map[string]string{}
	for _, line := range strings.Split(string(status), "\n") {
		if k, v, ok := strings.Cut(line, ":"); ok {
			fields[k] = strings.Join(strings.Fields(v), " ")
		}
	}
	if fields["Uid"] != "65532 65532 65532 65532" || fields["Gid"] != "65532 65532 65532 65532" {
		t.Errorf("the gateway runs as uid %q gid %q, want 65532", fields["Uid"], fields["Gid"])
	}
	if fields["CapEff"] != "0000000000000000" || fields["CapPrm"] != "0000000000000000" {
		t.Errorf("the gateway has capabilities: effective %s, permitted %s", fields["CapEff"], fields["CapPrm"])
	}
	if fields["NoNewPrivs"] != "1" {
		t.Errorf("NoNewPrivs is %q", fields["NoNewPrivs"])
	}
}

func inspectJSON(t *testing.T, text string, v any) {
	t.Helper()
	if err := json.Unmarshal([]byte(text), v); err != nil {
		t.Fatalf("podman inspect: %v\n%s", err, text)
	}
}

func freePort(t *testing.T) int {
	t.Helper()
	p, err := freeport.Pick()
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func randomHex(t *testing.T, n int) string {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}
