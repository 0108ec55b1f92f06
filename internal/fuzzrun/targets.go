package fuzzrun

import (
	"bufio"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
)

// Package is a directory holding fuzz targets.
type Package struct {
	Dir     string   // relative to the module root, e.g. "internal/jsonrpc"
	Targets []string // FuzzX names, sorted
}

var fuzzFunc = regexp.MustCompile(`^func (Fuzz\w+)\(\w+ \*testing\.F\)`)

// Find lists the fuzz targets under root by package directory, sorted.
// Directories named testdata or vendor, and hidden ones, are skipped.
func Find(root string) ([]Package, error) {
	byDir := map[string][]string{}
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		name := d.Name()
		if d.IsDir() {
			if path != root && (name == "testdata" || name == "vendor" || strings.HasPrefix(name, ".")) {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(name, "_test.go") {
			return nil
		}
		names, err := targetsIn(path)
		if err != nil || len(names) == 0 {
			return err
		}
		rel, err := filepath.Rel(root, filepath.Dir(path))
		if err != nil {
			return err
		}
		byDir[rel] = append(byDir[rel], names...)
		return nil
	})
	if err != nil {
		return nil, err
	}
	var out []Package
	for dir, names := range byDir {
		slices.Sort(names)
		out = append(out, Package{Dir: filepath.ToSlash(dir), Targets: names})
	}
	slices.SortFunc(out, func(a, b Package) int { return strings.Compare(a.Dir, b.Dir) })
	return out, nil
}

func targetsIn(path string) ([]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for sc.Scan() {
		if m := fuzzFunc.FindStringSubmatch(sc.Text()); m != nil {
			out = append(out, m[1])
		}
	}
	return out, sc.Err()
}
