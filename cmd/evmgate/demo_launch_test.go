//go:build !demo && !nodemo

package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// A binary built without -trimpath finds the checkout it was built from.
func TestDemoSourceTreeIsTheCheckout(t *testing.T) {
	root, err := demoSourceTree()
	if err != nil {
		t.Fatal(err)
	}
	want, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	if root != want {
		t.Fatalf("source tree %s, want %s", root, want)
	}
}

func TestGoModuleReadsTheModuleLine(t *testing.T) {
	dir := t.TempDir()
	for text, want := range map[string]string{
		"// a fork\nmodule github.com/evmgate/evmgate\n\ngo 1.26\n": modulePath,
		"module \"example.com/other\"\n":                            "example.com/other",
		"go 1.26\n":                                                 "",
	} {
		path := filepath.Join(dir, "go.mod")
		if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		if got := goModule(path); got != want {
			t.Errorf("goModule(%q) = %q, want %q", text, got, want)
		}
	}
	if got := goModule(filepath.Join(dir, "missing")); got != "" {
		t.Errorf("goModule of a missing file = %q", got)
	}
}

// Demo binaries of other checkouts unused for longer than demoKeep go;
// this checkout's, and recent ones, stay.
func TestPruneDemoBinaries(t *testing.T) {
	dir := t.TempDir()
	now := time.Now()
	files := map[string]time.Time{
		"demo-mine": now.Add(-60 * 24 * time.Hour), "demo-old": now.Add(-60 * 24 * time.Hour),
		"demo-old.lock": now.Add(-60 * 24 * time.Hour), "demo-recent": now.Add(-time.Hour), "other": now.Add(-60 * 24 * time.Hour),
	}
	for name, mtime := range files {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, nil, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(p, mtime, mtime); err != nil {
			t.Fatal(err)
		}
	}
	pruneDemoBinaries(dir, filepath.Join(dir, "demo-mine"), now.Add(-demoKeep))
	for name, want := range map[string]bool{"demo-mine": true, "demo-old": false, "demo-old.lock": false, "demo-recent": true, "other": true} {
		if _, err := os.Stat(filepath.Join(dir, name)); (err == nil) != want {
			t.Errorf("%s: kept %v, want %v", name, err == nil, want)
		}
	}
}

// The line printed before the demo is built names why: the first run, or
// a source changed since the last run; none when only a test, a document
// or what go build ignores changed.
func TestDemoBuildNotice(t *testing.T) {
	root := t.TempDir()
	bin := filepath.Join(t.TempDir(), "demo-x")
	if got := demoBuildNotice(bin, root); !strings.Contains(got, "the first time") || !strings.Contains(got, bin) {
		t.Errorf("no binary yet: %q", got)
	}
	old := time.Now().Add(-time.Hour)
	files := []string{"go.mod", "go.sum", "README.md", "cmd/evmgate/main.go", "internal/x/x.go", "internal/x/x_test.go",
		"internal/x/page.html", "internal/x/testdata/t.go", ".git/hooks/h.go", "_tools/t.go", "docs/guide.md",
		"internal/x/.#x.go", "internal/x/_old.go", "internal/x/.x.go.swp"}
	for _, f := range append(files, "demo-x") {
		p := filepath.Join(root, f)
		if f == "demo-x" {
			p = bin
		}
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, nil, 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(p, old, old); err != nil {
			t.Fatal(err)
		}
	}
	built := old.Add(time.Minute)
	if err := os.Chtimes(bin, built, built); err != nil {
		t.Fatal(err)
	}
	if got := demoBuildNotice(bin, root); got != "" {
		t.Errorf("nothing changed: %q", got)
	}
	later := built.Add(time.Minute)
	for _, f := range files {
		p := filepath.Join(root, f)
		if err := os.Chtimes(p, later, later); err != nil {
			t.Fatal(err)
		}
		got := demoBuildNotice(bin, root)
		source := map[string]bool{"go.mod": true, "go.sum": true, "cmd/evmgate/main.go": true, "internal/x/x.go": true, "internal/x/page.html": true}[f]
		if changed := strings.Contains(got, "the sources changed"); changed != source || (source && !strings.Contains(got, bin)) {
			t.Errorf("%s changed: notice %q, want one naming the sources %v", f, got, source)
		}
		if err := os.Chtimes(p, old, old); err != nil {
			t.Fatal(err)
		}
	}
}

// demoNotice is the line `evmgate demo` will print before it builds the
// demo binary, "" when it finds it up to date (known: the binary under
// test is the launcher).
func demoNotice() (notice string, known bool) {
	root, err := demoSourceTree()
	if err != nil {
		return "", false
	}
	bin, err := demoBinaryPath(root)
	if err != nil {
		return "", false
	}
	return demoBuildNotice(bin, root), true
}
