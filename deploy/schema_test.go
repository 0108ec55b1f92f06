package deploy_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/yannh/kubeconform/pkg/validator"
)

// kubernetesVersion is the release whose API schemas the manifests are
// checked against.
const kubernetesVersion = "v1.36.3"

const (
	swaggerFile        = "testdata/kubernetes-swagger.json"
	serviceMonitorFile = "testdata/servicemonitor-definitions.json"
)

// schemaRoots are the kinds the manifests and the chart use. Their
// definitions, and every definition they reference, are kept in swaggerFile.
var schemaRoots = []string{
	"io.k8s.api.apps.v1.DaemonSet",
	"io.k8s.api.apps.v1.Deployment",
	"io.k8s.api.apps.v1.StatefulSet",
	"io.k8s.api.autoscaling.v2.HorizontalPodAutoscaler",
	"io.k8s.api.core.v1.ConfigMap",
	"io.k8s.api.core.v1.Secret",
	"io.k8s.api.core.v1.Service",
	"io.k8s.api.networking.v1.NetworkPolicy",
	"io.k8s.api.policy.v1.PodDisruptionBudget",
}

var updateSwagger = flag.Bool("update-swagger", false,
	"rewrite "+swaggerFile+" from k8s.io/kubernetes@"+kubernetesVersion+" (downloads the module)")

// TestKubernetesSwaggerSubset checks that swaggerFile is the subset of the
// upstream swagger.json that schemaRoots need. It reads k8s.io/kubernetes
// from the module cache and is skipped when the module is not there (under
// CI=true it is downloaded instead); with
// -update-swagger it downloads the module and rewrites the file.
func TestKubernetesSwaggerSubset(t *testing.T) {
	dir := kubernetesModule(t, *updateSwagger || os.Getenv("CI") == "true") // CI fetches it rather than skip
	full, err := os.ReadFile(filepath.Join(dir, "api", "openapi-spec", "swagger.json"))
	if err != nil {
		t.Fatal(err)
	}
	sub, err := swaggerSubset(full, schemaRoots)
	if err != nil {
		t.Fatal(err)
	}
	if *updateSwagger {
		if err := os.WriteFile(swaggerFile, sub, 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("wrote %s (%d bytes)", swaggerFile, len(sub))
		return
	}
	have, err := os.ReadFile(swaggerFile)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(have, sub) {
		t.Fatalf("%s is not the subset of k8s.io/kubernetes@%s that schemaRoots need: run go generate ./deploy", swaggerFile, kubernetesVersion)
	}
}

// kubernetesModule returns the directory of k8s.io/kubernetes in the module
// cache, downloading it only when download is set.
func kubernetesModule(t *testing.T, download bool) string {
	t.Helper()
	cmd := exec.Command("go", "mod", "download", "-json", "k8s.io/kubernetes@"+kubernetesVersion)
	if !download {
		cmd.Env = append(os.Environ(), "GOPROXY=off")
	}
	out, err := cmd.Output()
	var mod struct{ Dir, Error string }
	if jerr := json.Unmarshal(out, &mod); jerr != nil || mod.Dir == "" {
		if download {
			t.Fatalf("go mod download k8s.io/kubernetes@%s: %v %s", kubernetesVersion, err, mod.Error)
		}
		t.Skipf("k8s.io/kubernetes@%s is not in the module cache (go generate ./deploy downloads it): %s", kubernetesVersion, mod.Error)
	}
	return mod.Dir
}

// swaggerSubset returns the definitions of roots and every definition they
// reference, without descriptions, as indented JSON with sorted keys.
func swaggerSubset(full []byte, roots []string) ([]byte, error) {
	var spec struct {
		Definitions map[string]any `json:"definitions"`
	}
	if err := json.Unmarshal(full, &spec); err != nil {
		return nil, fmt.Errorf("reading swagger.json: %w", err)
	}
	keep := map[string]any{}
	var visit func(name string) error
	var walk func(v any) error
	visit = func(name string) error {
		if _, done := keep[name]; done {
			return nil
		}
		d, ok := spec.Definitions[name]
		if !ok {
			return fmt.Errorf("swagger.json has no definition %s", name)
		}
		keep[name] = stripDescriptions(d)
		return walk(d)
	}
	walk = func(v any) error {
		switch x := v.(type) {
		case map[string]any:
			if ref, ok := x["$ref"].(string); ok {
				if err := visit(strings.TrimPrefix(ref, "#/definitions/")); err != nil {
					return err
				}
			}
			for _, c := range x {
				if err := walk(c); err != nil {
					return err
				}
			}
		case []any:
			for _, c := range x {
				if err := walk(c); err != nil {
					return err
				}
			}
		}
		return nil
	}
	for _, r := range roots {
		if err := visit(r); err != nil {
			return nil, err
		}
	}
	out, err := json.MarshalIndent(map[string]any{
		"source":      "k8s.io/kubernetes@" + kubernetesVersion + " api/openapi-spec/swagger.json: the definitions deploy/ uses, without descriptions",
		"definitions": keep,
	}, "", " ")
	return append(out, '\n'), err
}

func stripDescriptions(v any) any {
	switch x := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, c := range x {
			if k == "description" {
				if _, isText := c.(string); isText {
					continue
				}
			}
			out[k] = stripDescriptions(c)
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, c := range x {
			out[i] = stripDescriptions(c)
		}
		return out
	}
	return v
}

var schemas struct {
	once sync.Once
	dir  string
	err  error
}

// schemaDir writes the standalone strict JSON schemas, one file per kind
// named as kubeconform looks them up, into a directory shared by the tests.
func schemaDir(t *testing.T) string {
	t.Helper()
	schemas.once.Do(func() {
		schemas.dir = filepath.Join(testTmp, "schemas")
		schemas.err = writeSchemas(schemas.dir, swaggerFile, serviceMonitorFile)
	})
	if schemas.err != nil {
		t.Fatal(schemas.err)
	}
	return schemas.dir
}

func writeSchemas(dir string, files ...string) error {
	defs := map[string]any{}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			return err
		}
		var spec struct {
			Definitions map[string]any `json:"definitions"`
		}
		if err := json.Unmarshal(data, &spec); err != nil {
			return fmt.Errorf("%s: %w", f, err)
		}
		for k, v := range spec.Definitions {
			defs[k] = v
		}
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	for name, d := range defs {
		gvks, _ := d.(map[string]any)["x-kubernetes-group-version-kind"].([]any)
		if len(gvks) != 1 {
			continue
		}
		gvk := gvks[0].(map[string]any)
		group, version, kind := gvk["group"].(string), gvk["version"].(string), gvk["kind"].(string)
		s, err := standalone(d, defs, []string{name})
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		apiVersion, suffix := version, "-"+version
		if group != "" {
			apiVersion = group + "/" + version
			suffix = "-" + strings.Split(group, ".")[0] + "-" + version
		}
		props := s["properties"].(map[string]any)
		props["apiVersion"].(map[string]any)["enum"] = []any{apiVersion}
		props["kind"].(map[string]any)["enum"] = []any{kind}
		out, err := json.MarshalIndent(s, "", " ")
		if err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(dir, strings.ToLower(kind)+suffix+".json"), out, 0o644); err != nil {
			return err
		}
	}
	return nil
}

// standalone resolves every $ref of the schema s by copying the definition
// in, and makes it strict as kubeconform's standalone-strict schemas are:
// an object with properties takes no others, an IntOrString is a string or an
// integer, a Quantity a string or a number.
func standalone(s any, defs map[string]any, path []string) (map[string]any, error) {
	m, ok := s.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("schema at %s is %T, not an object", strings.Join(path, "."), s)
	}
	if ref, ok := m["$ref"].(string); ok {
		name := strings.TrimPrefix(ref, "#/definitions/")
		switch name {
		case "io.k8s.apimachinery.pkg.util.intstr.IntOrString":
			return oneOf("string", "integer"), nil
		case "io.k8s.apimachinery.pkg.api.resource.Quantity":
			return oneOf("string", "number"), nil
		}
		if slices.Contains(path, name) {
			return nil, fmt.Errorf("%s refers to itself through %s", name, strings.Join(path, " > "))
		}
		d, ok := defs[name]
		if !ok {
			return nil, fmt.Errorf("no definition %s", name)
		}
		return standalone(d, defs, append(path, name))
	}
	if m["format"] == "int-or-string" {
		return oneOf("string", "integer"), nil
	}
	out := map[string]any{}
	for k, v := range m {
		if strings.HasPrefix(k, "x-kubernetes-") {
			continue
		}
		e, err := standaloneKeyword(k, v, defs, path)
		if err != nil {
			return nil, err
		}
		out[k] = e
	}
	if _, has := out["properties"]; has {
		if _, set := out["additionalProperties"]; !set {
			out["additionalProperties"] = false
		}
	}
	return out, nil
}

// standaloneKeyword resolves the schemas inside one keyword's value.
func standaloneKeyword(k string, v any, defs map[string]any, path []string) (any, error) {
	switch k {
	case "properties":
		props := map[string]any{}
		for p, ps := range v.(map[string]any) {
			e, err := standalone(ps, defs, append(path, p))
			if err != nil {
				return nil, err
			}
			props[p] = e
		}
		return props, nil
	case "items", "not":
		return standalone(v, defs, path)
	case "additionalProperties":
		if _, isBool := v.(bool); isBool {
			return v, nil
		}
		return standalone(v, defs, append(path, "*"))
	case "allOf", "anyOf", "oneOf":
		var list []any
		for _, c := range v.([]any) {
			e, err := standalone(c, defs, path)
			if err != nil {
				return nil, err
			}
			list = append(list, e)
		}
		return list, nil
	}
	return v, nil
}

func oneOf(types ...string) map[string]any {
	var list []any
	for _, t := range types {
		list = append(list, map[string]any{"type": t})
	}
	return map[string]any{"oneOf": list}
}

// kubeconform validates every document of a YAML stream strictly against
// the schemas, reports each problem, and returns how many documents it found
// valid. A kind without a schema is an error.
func kubeconform(t *testing.T, name string, stream []byte) int {
	t.Helper()
	valid, errs := validate(t, name, stream)
	for _, err := range errs {
		t.Error(err)
	}
	return valid
}

func validate(t *testing.T, name string, stream []byte) (valid int, errs []error) {
	t.Helper()
	v, err := validator.New(
		[]string{filepath.Join(schemaDir(t), "{{ .ResourceKind }}{{ .KindSuffix }}.json")},
		validator.Opts{Strict: true, KubernetesVersion: strings.TrimPrefix(kubernetesVersion, "v")},
	)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range v.Validate(name, io.NopCloser(bytes.NewReader(stream))) {
		what := name
		if sig, _ := r.Resource.Signature(); sig != nil {
			what = fmt.Sprintf("%s: %s %s", name, sig.Kind, sig.Name)
		}
		switch r.Status {
		case validator.Valid:
			valid++
		case validator.Empty:
		case validator.Invalid:
			var msgs []string
			for _, e := range r.ValidationErrors {
				msgs = append(msgs, e.Path+": "+e.Msg)
			}
			errs = append(errs, fmt.Errorf("%s is invalid: %s", what, strings.Join(msgs, "; ")))
		default:
			errs = append(errs, fmt.Errorf("%s: %v", what, r.Err))
		}
	}
	return valid, errs
}

// TestSchemasRejectMistakes shows the validation is not vacuous: each
// mistake below is refused.
func TestSchemasRejectMistakes(t *testing.T) {
	base, err := os.ReadFile("kubernetes/deployment.yaml")
	if err != nil {
		t.Fatal(err)
	}
	sm, err := os.ReadFile("kubernetes/servicemonitor.yaml")
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name     string
		doc      []byte
		old, new string
	}{
		{"misspelt field", base, "readinessProbe:", "readinesProbe:"},
		{"wrong type", base, "revisionHistoryLimit: 5", `revisionHistoryLimit: "5"`},
		{"unknown apiVersion", base, "apiVersion: apps/v1", "apiVersion: apps/v2"},
		{"missing required field", base, "- name: evmgate\n          image:", "- image:"},
		{"duplicate key", base, "  revisionHistoryLimit: 5\n", "  revisionHistoryLimit: 5\n  revisionHistoryLimit: 3\n"},
		{"bad quantity type", base, "memory: 512Mi", "memory: [512Mi]"},
		{"servicemonitor unknown field", sm, "interval: 15s", "intervall: 15s"},
		{"servicemonitor bad interval", sm, "interval: 15s", "interval: 15 seconds"},
		{"servicemonitor without selector", sm, "  selector:\n", "  podSelector:\n"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			doc := bytes.Replace(c.doc, []byte(c.old), []byte(c.new), 1)
			if bytes.Equal(doc, c.doc) {
				t.Fatalf("%q is not in the file", c.old)
			}
			if _, errs := validate(t, c.name, doc); len(errs) == 0 {
				t.Fatalf("accepted:\n%s", doc)
			} else {
				t.Logf("refused: %v", errors.Join(errs...))
			}
		})
	}
}
