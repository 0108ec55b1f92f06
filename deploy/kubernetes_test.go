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
