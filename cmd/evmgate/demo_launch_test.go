//go:build !demo && !nodemo

package main

import (
	"os"
	"path/filepath"
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

// demoNotBuilt reports whether `evmgate demo` will build the demo binary
// first (known: the binary under test is the launcher).
func demoNotBuilt() (notBuilt, known bool) {
	root, err := demoSourceTree()
	if err != nil {
		return false, false
	}
	bin, err := demoBinaryPath(root)
	if err != nil {
		return false, false
	}
	_, err = os.Stat(bin)
	return err != nil, true
}
