package fuzzrun

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// Environment of TestFuzzTargets.
const (
	envRun  = "EVMGATE_FUZZ"      // "1": run even outside CI
	envTime = "EVMGATE_FUZZ_TIME" // fuzz time per target, as -fuzztime takes it
	// defaultTime keeps the whole run near a minute on two busy cores: the
	// build of each package's instrumented test binary costs more than this.
	defaultTime = "3s"
	// budget bounds the whole run, builds included.
	budget = 8 * time.Minute
)

// Every fuzz target of the module runs for EVMGATE_FUZZ_TIME (default 3s)
// with one worker; a target that fails fails this test, and its input stays
// in testdata/fuzz as a regression test.
func TestFuzzTargets(t *testing.T) {
	if os.Getenv("CI") != "true" && os.Getenv(envRun) != "1" {
		t.Skipf("fuzzing runs under CI=true or %s=1 (for %s each, or %s)", envRun, defaultTime, envTime)
	}
	fuzzTime := defaultTime
	if v := os.Getenv(envTime); v != "" {
		fuzzTime = v
	}
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	pkgs, err := Find(root)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.ContainsFunc(pkgs, func(p Package) bool { return p.Dir == "internal/jsonrpc" }) {
		t.Fatalf("no fuzz target found in internal/jsonrpc under %s", root)
	}
	ctx, cancel := context.WithTimeout(t.Context(), budget)
	defer cancel()
	bin, cache := t.TempDir(), t.TempDir()
	start := time.Now()
	for _, p := range pkgs {
		exe := filepath.Join(bin, strings.ReplaceAll(p.Dir, "/", "_")+".test")
		built := time.Now()
		out, err := command(ctx, root, "go", "test", "-c", "-fuzz=.", "-o", exe, "./"+p.Dir).CombinedOutput()
		if err != nil {
			t.Fatalf("building %s for fuzzing: %v\n%s", p.Dir, err, out)
		}
		t.Logf("%s: built in %v", p.Dir, time.Since(built).Round(time.Millisecond))
		for _, name := range p.Targets {
			ran := time.Now()
			out, err := command(ctx, filepath.Join(root, p.Dir), exe, "-test.run=^$", "-test.fuzz=^"+name+"$",
				"-test.fuzztime="+fuzzTime, "-test.parallel=1", "-test.fuzzcachedir="+cache).CombinedOutput()
			if err != nil {
				t.Errorf("%s %s failed (its input is kept in %s/testdata/fuzz/%s; re-run with go test -run=%s ./%s): %v\n%s",
					p.Dir, name, p.Dir, name, name, p.Dir, err, tail(out, 40))
				continue
			}
			t.Logf("%s %s: %s in %v", p.Dir, name, lastExecs(out), time.Since(ran).Round(time.Millisecond))
		}
	}
	t.Logf("every target fuzzed in %v", time.Since(start).Round(time.Millisecond))
}

func command(ctx context.Context, dir, name string, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = dir
	cmd.WaitDelay = 10 * time.Second
	return cmd
}

// lastExecs is the last "execs: N" progress line of a fuzz run.
func lastExecs(out []byte) string {
	last := ""
	for l := range strings.SplitSeq(string(out), "\n") {
		if i := strings.Index(l, "execs: "); i >= 0 {
			last = strings.TrimSpace(l[i:])
		}
	}
	return last
}

func tail(out []byte, n int) string {
	lines := strings.Split(strings.TrimRight(string(out), "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}
