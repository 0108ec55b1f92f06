package monitoring

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

const (
	rulesPath     = "../prometheus/rules.yaml"
	rulesTestPath = "../prometheus/rules_test.yaml"
	// promtoolLib is where CI extracts promtool from Debian's prometheus
	// package (installing the package would start a Prometheus server).
	promtoolLib = "/usr/local/lib/evmgate-tools/promtool"
)

type ruleFile struct {
	Groups []struct {
		Name  string `yaml:"name"`
		Rules []rule `yaml:"rules"`
	} `yaml:"groups"`
}

type rule struct {
	Record      string            `yaml:"record"`
	Alert       string            `yaml:"alert"`
	Expr        string            `yaml:"expr"`
	For         string            `yaml:"for"`
	Labels      map[string]string `yaml:"labels"`
	Annotations map[string]string `yaml:"annotations"`
}

func readRules(t *testing.T) []rule {
	t.Helper()
	raw, err := os.ReadFile(rulesPath)
	if err != nil {
		t.Fatal(err)
	}
	var f ruleFile
	if err := yaml.Unmarshal(raw, &f); err != nil {
		t.Fatalf("%s: %v", rulesPath, err)
	}
	var out []rule
	for _, g := range f.Groups {
		out = append(out, g.Rules...)
	}
	if len(out) == 0 {
		t.Fatalf("%s has no rules", rulesPath)
	}
	return out
}

// promtool returns the path of promtool: $EVMGATE_PROMTOOL, then PATH, then
// promtoolLib. Without it the test is skipped, or fails under CI=true.
func promtool(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("EVMGATE_PROMTOOL"); p != "" {
		return p
	}
	if p, err := exec.LookPath("promtool"); err == nil {
		return p
	}
	if _, err := os.Stat(promtoolLib); err == nil {
		return promtoolLib
	}
	msg := "promtool not found (EVMGATE_PROMTOOL, PATH, " + promtoolLib + "); extract it from Debian's prometheus package: " +
		"apt-get download prometheus && dpkg-deb -x prometheus_*.deb x && install -D x/usr/bin/promtool " + promtoolLib
	if os.Getenv("CI") == "true" {
		t.Fatal(msg)
	}
	t.Skip(msg)
	return ""
}

func runPromtool(t *testing.T, args ...string) {
	t.Helper()
	out, err := exec.Command(promtool(t), args...).CombinedOutput()
	if err != nil {
		t.Fatalf("promtool %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	t.Logf("promtool %s:\n%s", strings.Join(args, " "), out)
}

func TestRulesCheck(t *testing.T) {
	t.Parallel()
	runPromtool(t, "check", "rules", rulesPath)
}

func TestRulesUnitTests(t *testing.T) {
	t.Parallel()
	runPromtool(t, "test", "rules", rulesTestPath)
}

// promtool has no query linter, so every dashboard query is checked as the
// expression of a recording rule, with Grafana's variables replaced.
func TestDashboardQueriesParse(t *testing.T) {
	t.Parallel()
	queries := dashboardQueries(t)
	var b strings.Builder
	b.WriteString("groups:\n  - name: dashboard\n    rules:\n")
	for i, q := range queries {
		expr := grafanaVars.ReplaceAllStringFunc(q.expr, func(v string) string {
			if strings.HasPrefix(v, "$__") {
				return "5m"
			}
			return ".*"
		})
		fmt.Fprintf(&b, "      # %s\n      - record: dashboard:query_%d\n        expr: %q\n", q.where, i, expr)
	}
	path := filepath.Join(t.TempDir(), "dashboard-queries.yaml")
	if err := os.WriteFile(path, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	runPromtool(t, "check", "rules", path)
}

var grafanaVars = regexp.MustCompile(`\$\{?[A-Za-z0-9_]+\}?`)

// Every alert has a severity, a summary and a description, a row in the
// README's alert table, and at least one unit test in which it fires; the
// README names no alert that does not exist.
func TestAlertsAreDocumentedAndTested(t *testing.T) {
	t.Parallel()
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(rulesTestPath)
	if err != nil {
		t.Fatal(err)
	}
	var tests struct {
		Tests []struct {
			AlertRuleTest []struct {
				Alertname string `yaml:"alertname"`
				ExpAlerts []any  `yaml:"exp_alerts"`
			} `yaml:"alert_rule_test"`
		} `yaml:"tests"`
	}
	if err := yaml.Unmarshal(raw, &tests); err != nil {
		t.Fatalf("%s: %v", rulesTestPath, err)
	}
	fires := map[string]bool{}
	for _, tc := range tests.Tests {
		for _, a := range tc.AlertRuleTest {
			if len(a.ExpAlerts) > 0 {
				fires[a.Alertname] = true
			}
		}
	}
	alerts := map[string]bool{}
	for _, r := range readRules(t) {
		if r.Alert == "" {
			continue
		}
		alerts[r.Alert] = true
		if !strings.Contains(string(readme), "| `"+r.Alert+"` |") {
			t.Errorf("alert %s: no row in the README's alert table", r.Alert)
		}
		if s := r.Labels["severity"]; s != "critical" && s != "warning" {
			t.Errorf("alert %s: severity %q, want critical or warning", r.Alert, s)
		}
		if r.Annotations["summary"] == "" || r.Annotations["description"] == "" {
			t.Errorf("alert %s: summary or description annotation missing", r.Alert)
		}
		if !fires[r.Alert] {
			t.Errorf("alert %s: no test in %s expects it to fire", r.Alert, rulesTestPath)
		}
	}
	for _, m := range readmeAlert.FindAllStringSubmatch(string(readme), -1) {
		if !alerts[m[1]] {
			t.Errorf("README.md names alert %s, which %s does not define", m[1], rulesPath)
		}
	}
}

var readmeAlert = regexp.MustCompile("`(Evmgate[A-Za-z]+)`")
