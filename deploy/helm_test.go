package deploy_test

import (
	"fmt"
	"maps"
	"os"
	"strings"
	"testing"

	"helm.sh/helm/v4/pkg/chart/common"
	"helm.sh/helm/v4/pkg/chart/common/util"
	"helm.sh/helm/v4/pkg/chart/v2/lint"
	"helm.sh/helm/v4/pkg/chart/v2/lint/support"
	"helm.sh/helm/v4/pkg/chart/v2/loader"
	chartutil "helm.sh/helm/v4/pkg/chart/v2/util"
	"helm.sh/helm/v4/pkg/engine"
	releaseutil "helm.sh/helm/v4/pkg/release/v1/util"
	"sigs.k8s.io/yaml"
)

const chartDir = "helm/evmgate"

// chartCases are the value sets the chart is rendered with: its defaults and
// each file of its ci/ folder, with the Secrets they expect in the cluster.
var chartCases = []struct {
	name, values string
	secrets      secretData
	tls          bool           // the Secrets of tlsAccessSecrets too
	want         map[string]int // kinds and counts the rendering must hold
}{
	{
		name: "defaults",
		want: map[string]int{"ConfigMap": 1, "Deployment": 1, "Service": 1, "HorizontalPodAutoscaler": 1, "PodDisruptionBudget": 1},
	},
	{
		name:    "full",
		values:  "ci/full-values.yaml",
		secrets: secretData{"validator-jwt": {"jwt.hex": "0x" + strings.Repeat("a1", 32)}},
		want: map[string]int{"ConfigMap": 2, "Deployment": 2, "DaemonSet": 1, "Service": 2, "Secret": 1,
			"HorizontalPodAutoscaler": 1, "PodDisruptionBudget": 1, "NetworkPolicy": 1, "ServiceMonitor": 1},
	},
	{
		name:   "external-redis",
		values: "ci/external-redis-values.yaml",
		secrets: secretData{"evmgate-keys": {
			"PROVIDER_A_KEY":      "test-provider-a-key",
			"EVMGATE_ADMIN_TOKEN": "test-admin-token-0123456789abcdef",
			"REDIS_PASSWORD":      "test-redis-password",
		}},
		want: map[string]int{"ConfigMap": 1, "Deployment": 1, "Service": 1},
	},
	{
		name:   "tls-access",
		values: "ci/tls-access-values.yaml",
		tls:    true,
		want: map[string]int{"ConfigMap": 1, "Deployment": 2, "Service": 2,
			"HorizontalPodAutoscaler": 1, "PodDisruptionBudget": 1, "NetworkPolicy": 1, "ServiceMonitor": 1},
	},
}

// TestHelmChart lints the chart strictly (helm lint --strict) and renders it
// (helm template) with each value set, through Helm's own lint rules, values
// schema check and template engine; every rendering passes the same
// checks as the plain manifests: strict schema validation, security
// settings, cross references, and its configuration loaded by evmgate.
func TestHelmChart(t *testing.T) {
	t.Parallel()
	for _, c := range chartCases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			vals := readValues(t, c.values)
			lintChart(t, vals)
			manifest, err := renderChart(vals)
			if err != nil {
				t.Fatal(err)
			}
			if kubeconform(t, c.name, []byte(manifest)) == 0 {
				t.Fatal("the chart rendered nothing")
			}
			o := parseObjects(t, "chart "+c.name, []byte(manifest))
			checkWorkloads(t, o)
			checkReferences(t, o)
			secrets := c.secrets
			if c.tls {
				secrets = tlsAccessSecrets(t, "evmgate-keys")
				checkHTTPSScrapes(t, o)
			}
			if n := checkConfigs(t, o, secrets.withRendered(o)); n == 0 {
				t.Error("no evmgate container")
			}
			if !maps.Equal(o.counts(), c.want) {
				t.Errorf("rendered %s, want %v", o.kinds(), c.want)
			}
			t.Logf("%s: %s", c.name, o.kinds())
		})
	}
}

// TestHelmChartRefuses checks that mistakes in values stop the rendering with
// a message that names the fix.
func TestHelmChartRefuses(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name, values, want string
	}{
		{"misspelt value", "replica: 3", "replica"},
		{"chart-owned config key", "config:\n  port: 9000", "config"},
		{"secret key missing", "networks:\n  - name: mainnet\n    local_nodes:\n      - rpc_endpoint: https://x.example/${API_KEY}",
			"set secrets.values.API_KEY"},
		{"redis twice", "redis:\n  enabled: true\n  url: redis://r:6379/0\n  passwordKey: \"\"", "not both"},
		{"redis password without secret", "redis:\n  enabled: true", "redis.passwordKey REDIS_PASSWORD needs a Secret"},
		{"nothing to deploy", "networks: []", "nothing to deploy"},
		{"engine without jwt", "engine:\n  enabled: true\n  nodes:\n    - url: http://10.0.0.5:8551", "engine.jwtSecret.name"},
		{"engine without nodes", "engine:\n  enabled: true\n  jwtSecret:\n    name: jwt", "engine.nodes"},
		{"tls without secret", "tls:\n  enabled: true", "tls.secretName"},
		{"tls enabled not a boolean", "tls:\n  enabled: \"yes\"", "enabled"},
		{"admin client CA without TLS", "admin:\n  enabled: true\n  tls:\n    clientCA:\n      secretName: ca", "admin.tls.enabled"},
		{"plain API key", "access:\n  enabled: true\n  keys:\n    - name: a\n      key: sk-plain-text", "key"},
		{"API key without secret", "access:\n  enabled: true\n  keys:\n    - name: a", "keys"},
		{"bad key hash", "access:\n  enabled: true\n  keys:\n    - name: a\n      key_sha256: abc", "key_sha256"},
		{"unknown fail mode", "access:\n  redisFailMode: maybe", "redisFailMode"},
		{"shared limits without redis", "access:\n  enabled: true\n  sharedLimits: true", "access.sharedLimits: needs a Redis"},
		{"cache redis without redis", "cache:\n  redis: true", "cache.redis: needs a Redis"},
		{"jwt keys without source", "access:\n  enabled: true\n  jwt:\n    jwksKey: jwks.json", "access.jwt.configMap"},
		{"limits wrong type", "limits:\n  max_connections: many", "max_connections"},
		{"limits bad duration", "limits:\n  idle_timeout: 2 minutes", "idle_timeout"},
		{"limits unknown key", "limits:\n  max_conns: 5", "max_conns"},
		{"access values while off", "access:\n  keys:\n    - name: a\n      key: ${A_KEY}", "set access.enabled: true"},
		{"redis maxmemory not a size", "redis:\n  maxmemory: 1 gig", "maxmemory"},
		{"chart-owned access in config", "config:\n  access:\n    require_key: true", "config"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			var vals map[string]any
			if err := yaml.Unmarshal([]byte(c.values), &vals); err != nil {
				t.Fatal(err)
			}
			_, err := renderChart(vals)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %v, want one containing %q", err, c.want)
			}
		})
	}
}

func readValues(t *testing.T, file string) map[string]any {
	t.Helper()
	vals := map[string]any{}
	if file == "" {
		return vals
	}
	data, err := os.ReadFile(chartDir + "/" + file)
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.UnmarshalStrict(data, &vals); err != nil {
		t.Fatalf("%s: %v", file, err)
	}
	return vals
}

// lintChart is helm lint --strict: the same rules, and warnings fail too.
func lintChart(t *testing.T, vals map[string]any) {
	t.Helper()
	kv, err := common.ParseKubeVersion(kubernetesVersion)
	if err != nil {
		t.Fatal(err)
	}
	res := lint.RunAll(chartDir, vals, "evmgate", lint.WithKubeVersion(kv))
	for _, m := range res.Messages {
		if m.Severity >= support.WarningSev {
			t.Errorf("helm lint --strict: %s", m.Err)
		} else {
			t.Logf("helm lint: %s", m.Err)
		}
	}
}

// renderChart is helm template: values checked against the chart's schema,
// templates rendered, resources split from hooks and put in install order.
func renderChart(vals map[string]any) (string, error) {
	chrt, err := loader.Load(chartDir)
	if err != nil {
		return "", err
	}
	kv, err := common.ParseKubeVersion(kubernetesVersion)
	if err != nil {
		return "", err
	}
	if !chartutil.IsCompatibleRange(chrt.Metadata.KubeVersion, kv.String()) {
		return "", fmt.Errorf("the chart's kubeVersion %s excludes Kubernetes %s", chrt.Metadata.KubeVersion, kv)
	}
	caps := common.DefaultCapabilities.Copy()
	caps.KubeVersion = *kv
	top, err := util.ToRenderValuesWithSchemaValidation(chrt, vals,
		common.ReleaseOptions{Name: "evmgate", Namespace: "evmgate", Revision: 1, IsInstall: true}, caps, false)
	if err != nil {
		return "", err
	}
	files, err := engine.Render(chrt, top)
	if err != nil {
		return "", err
	}
	for name := range files {
		if strings.HasSuffix(name, "/NOTES.txt") {
			delete(files, name)
		}
	}
	hooks, manifests, err := releaseutil.SortManifests(files, nil, releaseutil.InstallOrder)
	if err != nil {
		return "", err
	}
	if len(hooks) > 0 {
		return "", fmt.Errorf("the chart has %d hooks, which these checks do not read", len(hooks))
	}
	var b strings.Builder
	for _, m := range manifests {
		fmt.Fprintf(&b, "---\n# Source: %s\n%s\n", m.Name, m.Content)
	}
	return b.String(), nil
}
