package deploy_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// plainSecrets stands in for the Secrets the plain manifests expect to find
// in the cluster (their comments give the kubectl commands).
var plainSecrets = secretData{
	"evmgate-secrets": {
		"PROVIDER_A_KEY":      "test-provider-a-key",
		"EVMGATE_ADMIN_TOKEN": "test-admin-token-0123456789abcdef",
		"REDIS_PASSWORD":      "test-redis-password",
	},
	"validator-jwt": {"jwt.hex": strings.Repeat("5e", 32) + "\n"},
}

// TestKubernetesManifests validates the plain manifests of kubernetes/ and
// kubernetes/engine/ strictly against the API schemas, checks their security
// settings and cross references, and loads the configuration of each evmgate
// container with evmgate's loader and binary.
func TestKubernetesManifests(t *testing.T) {
	t.Parallel()
	for _, dir := range []string{"kubernetes", "kubernetes/engine"} {
		t.Run(dir, func(t *testing.T) {
			t.Parallel()
			files, err := filepath.Glob(filepath.Join(dir, "*.yaml"))
			if err != nil || len(files) == 0 {
				t.Fatalf("no manifests in %s: %v", dir, err)
			}
			var stream []byte
			for _, f := range files {
				data, err := os.ReadFile(f)
				if err != nil {
					t.Fatal(err)
				}
				if kubeconform(t, f, data) == 0 {
					t.Errorf("%s holds no resource", f)
				}
				stream = append(append(stream, "\n---\n"...), data...)
			}
			o := parseObjects(t, dir, stream)
			checkWorkloads(t, o)
			checkReferences(t, o)
			if n := checkConfigs(t, o, plainSecrets.withRendered(o)); n == 0 {
				t.Errorf("%s: no evmgate container", dir)
			}
			t.Logf("%s: %s", dir, o.kinds())
		})
	}
}

// TestKubernetesTLSOverlay checks kubernetes/ with kubernetes/tls/ applied
// on top: the overlay's objects replace those of the same file name, and the
// result passes the same checks, its configuration loaded with the TLS
// certificates and JWT keys mounted from their Secrets.
func TestKubernetesTLSOverlay(t *testing.T) {
	t.Parallel()
	overlay, err := filepath.Glob(filepath.Join("kubernetes", "tls", "*.yaml"))
	if err != nil || len(overlay) == 0 {
		t.Fatalf("no manifests in kubernetes/tls: %v", err)
	}
	files := overlay
	base, _ := filepath.Glob(filepath.Join("kubernetes", "*.yaml"))
	for _, f := range base {
		if _, err := os.Stat(filepath.Join("kubernetes", "tls", filepath.Base(f))); os.IsNotExist(err) {
			files = append(files, f)
		}
	}
	var stream []byte
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if kubeconform(t, f, data) == 0 {
			t.Errorf("%s holds no resource", f)
		}
		stream = append(append(stream, "\n---\n"...), data...)
	}
	o := parseObjects(t, "kubernetes/tls", stream)
	checkWorkloads(t, o)
	checkReferences(t, o)
	checkHTTPSScrapes(t, o)
	secrets := tlsAccessSecrets(t, "evmgate-secrets")
	secrets["evmgate-secrets"]["PROVIDER_A_KEY"] = plainSecrets["evmgate-secrets"]["PROVIDER_A_KEY"]
	if n := checkConfigs(t, o, secrets.withRendered(o)); n == 0 {
		t.Error("no evmgate container")
	}
	cm := o.configMap("evmgate-config")
	if cm == nil || !strings.Contains(cm.Data["evmgate.yaml"], "cert_file: /etc/evmgate-tls/rpc/tls.crt") {
		t.Error("the overlay's ConfigMap did not replace the base one")
	}
	t.Logf("kubernetes/tls: %s", o.kinds())
}
