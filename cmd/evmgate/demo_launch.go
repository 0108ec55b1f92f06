//go:build !demo && !nodemo

package main

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"time"
)

// The evmgate binary holds no go-ethereum: linked in, it would triple the
// memory every deployed gateway maps at idle. `evmgate demo` builds the
// binary with -tags demo (the same command with the in-process nodes) from
// the source tree this binary was built from, into the user's cache
// directory, and runs it in place of this process. go build does nothing
// when that binary is up to date, so only the first run compiles.

// modulePath is the module a source tree must be for the demo to be built from it.
const modulePath = "github.com/evmgate/evmgate"

// errNoSourceTree is returned by a binary that cannot know its source tree.
var errNoSourceTree = errors.New("this evmgate binary holds no demo, and the source tree it was built from is not at hand (built with -trimpath, or the checkout has moved): run `go run ./cmd/evmgate demo` in a checkout of evmgate, or build the binary with `go build -tags demo ./cmd/evmgate`")

// demoCmd builds the demo binary and runs it with args; it returns only on
// an error. The demo writes to this process's own stdout and stderr.
func demoCmd(args []string, stdout, stderr io.Writer) error {
	if _, help, err := parseDemoFlags(args, stdout); err != nil || help {
		return err
	}
	root, err := demoSourceTree()
	if err != nil {
		return err
	}
	goBin, err := goTool()
	if err != nil {
		return fmt.Errorf("the demo is built from %s with the Go toolchain, and `go` is not on PATH: install Go or add it to PATH (%v)", root, err)
	}
	bin, err := demoBinaryPath(root)
	if err != nil {
		return err
	}
	if err := lockDemoBuild(bin); err != nil {
		return err
	}
	// go build prints nothing while it compiles: say at once that it does, and why.
	if notice := demoBuildNotice(bin, root); notice != "" {
		fmt.Fprintln(stderr, notice)
	}
	pruneDemoBinaries(filepath.Dir(bin), bin, time.Now().Add(-demoKeep))
	start := time.Now()
	build := exec.Command(goBin, "build", "-tags", "demo", "-o", bin, "./cmd/evmgate")
	build.Dir = root
	build.Stdout, build.Stderr = stderr, stderr
	if err := build.Run(); err != nil {
		return fmt.Errorf("building the demo in %s (go build -tags demo -o %s ./cmd/evmgate): %w", root, bin, err)
	}
	// go build leaves an up-to-date binary untouched: its time becomes that
	// of this check (or of the newest source, one dated in the future), so
	// that sources changed after it are told apart.
	stamp := start
	if newest := newestDemoSource(root); newest.After(stamp) {
		stamp = newest
	}
	_ = os.Chtimes(bin, stamp, stamp)
	return runDemo(bin, append([]string{"demo"}, args...))
}

// demoBuildNotice is the line printed before the demo is built, naming
// why it is: the first run of this checkout, or sources (Go files other
// than tests, go.mod, go.sum, files under cmd/ and internal/ that may be
// embedded) changed since the last run. "" when the binary is newer than
// every source: go build then only checks it, in seconds.
func demoBuildNotice(bin, root string) string {
	st, err := os.Stat(bin)
	if err != nil {
		return fmt.Sprintf("building the demo into %s, the first time for this checkout: it compiles go-ethereum, about a minute (a few on a small machine); later runs start in seconds", bin)
	}
	if !demoSourcesNewer(root, st.ModTime()) {
		return ""
	}
	return fmt.Sprintf("building the demo into %s again: the sources changed since its last run; only what changed compiles, seconds to a minute", bin)
}

// demoSourcesNewer reports whether a source of the demo under root was
// changed after t.
func demoSourcesNewer(root string, t time.Time) bool { return newestDemoSource(root).After(t) }

// newestDemoSource is the time of the newest source of the demo under
// root: Go files other than tests, go.mod, go.sum, and the files under
// cmd/ and internal/ that may be embedded; not what go build ignores
// (names starting with . or _, testdata).
func newestDemoSource(root string) time.Time {
	var newest time.Time
	_ = filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return nil // unreadable: go build will say so
		}
		name := d.Name()
		if path != root && (strings.HasPrefix(name, ".") || strings.HasPrefix(name, "_") || d.IsDir() && name == "testdata") {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		if d.IsDir() {
			return nil
		}
		rel, _ := filepath.Rel(root, path)
		source := rel == "go.mod" || rel == "go.sum" ||
			(strings.HasSuffix(name, ".go") && !strings.HasSuffix(name, "_test.go")) ||
			((strings.HasPrefix(rel, "cmd"+string(filepath.Separator)) || strings.HasPrefix(rel, "internal"+string(filepath.Separator))) &&
				!strings.HasSuffix(name, ".go"))
		if !source {
			return nil
		}
		if info, err := d.Info(); err == nil && info.ModTime().After(newest) {
			newest = info.ModTime()
		}
		return nil
	})
	return newest
}

// goTool finds the go command: on PATH, else in the Go root this binary
// was built with.
func goTool() (string, error) {
	goBin, err := exec.LookPath("go")
	if err == nil {
		return goBin, nil
	}
	if root := runtime.GOROOT(); root != "" {
		if fromRoot, err2 := exec.LookPath(filepath.Join(root, "bin", "go")); err2 == nil {
			return fromRoot, nil
		}
	}
	return "", err
}

// demoSourceTree returns the root of the checkout this binary was built
// from: the file names compiled into it are absolute unless -trimpath was
// given.
func demoSourceTree() (string, error) {
	_, file, _, ok := runtime.Caller(0)
	if !ok || !filepath.IsAbs(file) {
		return "", errNoSourceTree
	}
	root := filepath.Dir(filepath.Dir(filepath.Dir(file)))
	if goModule(filepath.Join(root, "go.mod")) != modulePath {
		return "", errNoSourceTree
	}
	return root, nil
}

// goModule returns the module path a go.mod file declares, or "".
func goModule(path string) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) == 2 && fields[0] == "module" {
			return strings.Trim(fields[1], `"`)
		}
	}
	return ""
}

// demoBinaryPath names the demo binary of the checkout at root in the
// user's cache directory, one per checkout.
func demoBinaryPath(root string) (string, error) {
	dir := filepath.Join(os.TempDir(), fmt.Sprintf("evmgate-%d", os.Getuid())) // without a home directory
	if cache, err := os.UserCacheDir(); err == nil {
		dir = filepath.Join(cache, "evmgate")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("the demo binary is kept in %s: %w", dir, err)
	}
	sum := sha256.Sum256([]byte(root))
	name := "demo-" + hex.EncodeToString(sum[:6])
	if runtime.GOOS == "windows" {
		name += ".exe"
	}
	return filepath.Join(dir, name), nil
}

// demoKeep is how long the demo binary of another checkout is kept unused
// (each is tens of MB, one per checkout path).
const demoKeep = 30 * 24 * time.Hour

// pruneDemoBinaries removes the demo binaries in dir, other than keep,
// last built before cutoff, with their lock files.
func pruneDemoBinaries(dir, keep string, cutoff time.Time) {
	old, _ := filepath.Glob(filepath.Join(dir, "demo-*"))
	for _, p := range old {
		if p == keep || strings.HasSuffix(p, ".lock") {
			continue
		}
		if st, err := os.Stat(p); err == nil && st.Mode().IsRegular() && st.ModTime().Before(cutoff) {
			_ = os.Remove(p)
			_ = os.Remove(p + ".lock")
		}
	}
}
