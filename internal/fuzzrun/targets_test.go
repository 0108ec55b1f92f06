package fuzzrun

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
)

func TestFind(t *testing.T) {
	root := t.TempDir()
	write := func(path, text string) {
		t.Helper()
		p := filepath.Join(root, path)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("a/x_test.go", "package a\nfunc FuzzB(f *testing.F) {}\nfunc FuzzA(f *testing.F) {}\nfunc TestC(t *testing.T) {}\n")
	write("a/y.go", "package a\nfunc FuzzNotATest(f *testing.F) {}\n")
	write("b/c/z_test.go", "package c\n// func FuzzComment(f *testing.F)\nfunc FuzzZ(ff *testing.F) {}\n")
	write("a/testdata/q_test.go", "package q\nfunc FuzzHidden(f *testing.F) {}\n")
	got, err := Find(root)
	if err != nil {
		t.Fatal(err)
	}
	want := []Package{{"a", []string{"FuzzA", "FuzzB"}}, {"b/c", []string{"FuzzZ"}}}
	if !slices.EqualFunc(got, want, func(a, b Package) bool { return a.Dir == b.Dir && slices.Equal(a.Targets, b.Targets) }) {
		t.Fatalf("Find = %v, want %v", got, want)
	}
}
