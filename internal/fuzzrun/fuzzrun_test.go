package fuzzrun

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Environment of TestFuzzTargets.
const (
	envRun    = "EVMGATE_FUZZ"        // "1": run even outside CI
	envTime   = "EVMGATE_FUZZ_TIME"   // fuzz time per target, as -fuzztime takes it
	envBudget = "EVMGATE_FUZZ_BUDGET" // the whole run, builds included
	// Every target runs for defaultTime; defaultBudget only stops a run
	// that went wrong (every target took about 4 minutes on two busy
	// cores, most of it building each package's test binary with coverage
	// instrumentation, all its dependencies included).
	defaultTime   = "2s"
	defaultBudget = 10 * time.Minute
)

// Every fuzz target of the module runs for EVMGATE_FUZZ_TIME (default 2s)
// with one worker, packages with the fewest dependencies first, within
// EVMGATE_FUZZ_BUDGET (default 10m). A target that fails fails this test,
// and its input stays in testdata/fuzz, where every later `go test` replays
// it. Targets the budget does not reach are listed; their seed corpora run
// in the ordinary tests anyway.
func TestFuzzTargets(t *testing.T) {
	if os.Getenv("CI") != "true" && os.Getenv(envRun) != "1" {
		t.Skipf("fuzzing runs under CI=true or %s=1 (%s per target: %s; whole run: %s)", envRun, defaultTime, envTime, envBudget)
	}
	fuzzTime, budget := settings(t)
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
	start := time.Now()
	ctx, cancel := context.WithTimeout(t.Context(), budget)
	defer cancel()
	r := &run{t: t, ctx: ctx, root: root, fuzzTime: fuzzTime, bin: t.TempDir(), cache: t.TempDir()}
	for _, p := range byDeps(ctx, root, pkgs) {
		r.fuzz(p)
	}
	t.Logf("%d targets fuzzed in %v", r.done, time.Since(start).Round(time.Millisecond))
	if len(r.missed) > 0 {
		t.Logf("not reached within %s=%v: %s", envBudget, budget, strings.Join(r.missed, ", "))
	}
}

func settings(t *testing.T) (string, time.Duration) {
	fuzzTime, budget := defaultTime, defaultBudget
	if v := os.Getenv(envTime); v != "" {
		fuzzTime = v
	}
	if v := os.Getenv(envBudget); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 {
			t.Fatalf("%s=%q: give a duration such as 5m", envBudget, v)
		}
		budget = d
	}
	return fuzzTime, budget
}

type run struct {
	t              *testing.T
	ctx            context.Context
	root, fuzzTime string
	bin, cache     string
	done           int
	missed         []string
}

// fuzz builds one package's instrumented test binary and fuzzes each of its
// targets in turn.
func (r *run) fuzz(p Package) {
	names := func() []string {
		out := make([]string, len(p.Targets))
		for i, n := range p.Targets {
			out[i] = p.Dir + "." + n
		}
		return out
	}
	if r.ctx.Err() != nil {
		r.missed = append(r.missed, names()...)
		return
	}
	exe := filepath.Join(r.bin, strings.ReplaceAll(p.Dir, "/", "_")+".test")
	built := time.Now()
	out, err := command(r.ctx, r.root, "go", "test", "-c", "-fuzz=.", "-o", exe, "./"+p.Dir).CombinedOutput()
	switch {
	case r.ctx.Err() != nil:
		r.missed = append(r.missed, names()...)
		return
	case err != nil:
		r.t.Errorf("building %s for fuzzing: %v\n%s", p.Dir, err, out)
		return
	}
	r.t.Logf("%s: built in %v", p.Dir, time.Since(built).Round(time.Millisecond))
	for _, name := range p.Targets {
		ran := time.Now()
		inputs := filepath.Join(r.root, p.Dir, "testdata", "fuzz", name)
		before := countFiles(inputs)
		fuzz := func() ([]byte, error) {
			return command(r.ctx, filepath.Join(r.root, p.Dir), exe, "-test.run=^$", "-test.fuzz=^"+name+"$",
				"-test.fuzztime="+r.fuzzTime, "-test.parallel=1", "-test.fuzzcachedir="+r.cache).CombinedOutput()
		}
		out, err := fuzz()
		// Go 1.26's fuzzing coordinator can fail a target with "context
		// deadline exceeded" at the end of -fuzztime when its workers were
		// slow to stop (go.dev/issue/75804), writing no input: such a run
		// is run again once. A failure that wrote its input is a finding.
		if err != nil && r.ctx.Err() == nil && countFiles(inputs) == before && strings.Contains(string(out), "context deadline exceeded") {
			r.t.Logf("%s %s: stopped by the fuzzing coordinator's deadline with no input written (go.dev/issue/75804); running it again", p.Dir, name)
			out, err = fuzz()
		}
		switch {
		case r.ctx.Err() != nil && err != nil:
			r.missed = append(r.missed, p.Dir+"."+name)
		case err != nil:
			r.t.Errorf("%s %s failed (its input is kept in %s/testdata/fuzz/%s; replay it with go test -run=%s ./%s): %v\n%s",
				p.Dir, name, p.Dir, name, name, p.Dir, err, tail(out, 40))
		default:
			r.done++
			r.t.Logf("%s %s: %s in %v", p.Dir, name, lastExecs(out), time.Since(ran).Round(time.Millisecond))
		}
	}
}

// countFiles counts the files in dir (0 when it does not exist).
func countFiles(dir string) int {
	entries, _ := os.ReadDir(dir)
	return len(entries)
}

// byDeps orders packages by how many packages their tests import, the
// cheapest builds first; one `go list -test` answers for all of them (a
// directory's largest count is its test binary's).
func byDeps(ctx context.Context, root string, pkgs []Package) []Package {
	n := map[string]int{}
	out, err := command(ctx, root, "go", "list", "-test", "-f", "{{len .Deps}} {{.Dir}}", "./...").Output()
	if err == nil {
		for l := range strings.SplitSeq(strings.TrimSpace(string(out)), "\n") {
			count, dir, _ := strings.Cut(l, " ")
			rel, err := filepath.Rel(root, dir)
			if d, err2 := strconv.Atoi(count); err == nil && err2 == nil {
				rel = filepath.ToSlash(rel)
				n[rel] = max(n[rel], d)
			}
		}
	}
	sorted := slices.Clone(pkgs)
	slices.SortStableFunc(sorted, func(a, b Package) int { return n[a.Dir] - n[b.Dir] })
	return sorted
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
