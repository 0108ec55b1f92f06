package main

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestBenchScriptRuns runs bench/run.sh as docs/benchmarks.md gives it,
// cut to one short round of one workload: it builds evmgate and this
// command, starts the fake nodes, evmgate (twice), HAProxy and the Go
// floor on 127.0.0.1, drives each, and reports a row for every target with
// no errors. Under CI=true a missing haproxy fails the test (CI installs
// Debian's); elsewhere the test is skipped.
func TestBenchScriptRuns(t *testing.T) {
	if testing.Short() {
		t.Skip("builds two binaries and drives five targets")
	}
	if _, err := exec.LookPath("haproxy"); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("haproxy is not installed: .ci/run installs Debian's")
		}
		t.Skip("haproxy is not installed")
	}
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "bash", filepath.Join(root, "bench", "run.sh"))
	cmd.Env = append(os.Environ(), "ROUNDS=1", "DURATION=400ms", "WARMUP=100ms", "CONCURRENCY=2",
		"WORKLOADS=blockNumber", "LATENCY=0", "OUT="+t.TempDir())
	// On the deadline every process the script started is stopped, not
	// only bash: its group gets SIGTERM, then the pipes are let go.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM) }
	cmd.WaitDelay = 30 * time.Second
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("bench/run.sh: %v\n%s", err, out)
	}
	for _, target := range []string{"haproxy", "evmgate", "evmgate+log", "go-floor", "direct"} {
		found := false
		for _, line := range strings.Split(string(out), "\n") {
			f := strings.Split(line, "|")
			// | workload | c | target | req/s | p50 | p99 | errors | ...
			if len(f) > 8 && strings.TrimSpace(f[1]) == "blockNumber" && strings.TrimSpace(f[3]) == target {
				found = true
				if e := strings.TrimSpace(f[7]); e != "0" {
					t.Errorf("%s: %s errors\n%s", target, e, out)
				}
			}
		}
		if !found {
			t.Errorf("no row for %s in the report:\n%s", target, out)
		}
	}
}
