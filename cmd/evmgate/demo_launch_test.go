//go:build !demo && !nodemo

package main

import (
	"os"
	"path/filepath"
	"testing"
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
