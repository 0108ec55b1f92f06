package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"os/exec"
	"strings"
	"testing"
)

// TestKeysScenarioRunsAsAProcess runs `evmgate-bench keys` briefly, as a
// process with its own fake node, gateway and burst processes, at both
// burst priorities, and checks what does not depend on the machine's
// speed: every calm call is answered, each window has calls, the burst is
// both served (its bucket starts full) and refused with 429. No latency is
// judged.
func TestKeysScenarioRunsAsAProcess(t *testing.T) {
	if testing.Short() {
		t.Skip("starts 4 processes and loads them for about 3 s, twice")
	}
	for _, prio := range []string{"normal", "idle"} {
		t.Run(prio, func(t *testing.T) {
			// A limit of 2/s (burst 2): a burst process at idle priority on a
			// busy machine may send only a few dozen calls, and a few are
			// enough to be both served and refused.
			cmd := exec.Command(benchBin(t), "keys", "-windows", "2", "-window", "300ms", "-warmup", "100ms",
				"-limit", "2", "-burst-priority", prio, "-dir", t.TempDir())
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			out, err := cmd.Output()
			if err != nil {
				t.Fatalf("evmgate-bench keys: %v\n%s", err, stderr.Bytes())
			}
			var r keysResult
			if err := json.Unmarshal(bytes.TrimSpace(out), &r); err != nil {
				t.Fatalf("stdout %q: %v", out, err)
			}
			if r.Scenario != "keys" || r.BurstPriority != prio || len(r.PerWindow) != 4 {
				t.Fatalf("scenario %q, priority %q, %d windows: %s", r.Scenario, r.BurstPriority, len(r.PerWindow), out)
			}
			for i, w := range r.PerWindow {
				if want := []string{"quiet", "burst"}[i%2]; w.Kind != want {
					t.Errorf("window %d is %s, want %s", i+1, w.Kind, want)
				}
				if w.Calls == 0 || w.Errors != 0 {
					t.Errorf("window %d (%s): %d calm calls, %d errors", i+1, w.Kind, w.Calls, w.Errors)
				}
				if (w.Burst != nil) != (w.Kind == "burst") {
					t.Errorf("window %d (%s): burst counts %v", i+1, w.Kind, w.Burst)
				}
			}
			if r.Quiet.Errors+r.Burst.Errors != 0 || r.CalmFirstError != "" {
				t.Errorf("calm key errors: %d quiet, %d burst (%s)", r.Quiet.Errors, r.Burst.Errors, r.CalmFirstError)
			}
			b := r.BurstCounts
			if b.Served == 0 || b.Refused == 0 || b.Errors != 0 {
				t.Errorf("burst: %d served, %d refused, %d errors (%s)", b.Served, b.Refused, b.Errors, b.FirstError)
			}
			want := "SCHED_OTHER nice 0, every thread"
			if prio == "idle" {
				want = "SCHED_IDLE nice 0, every thread"
				if !strings.HasPrefix(r.BurstLauncher, "idle (chrt") {
					want = "SCHED_OTHER nice 19, every thread" // nice, for want of chrt
				}
			}
			if r.BurstSched != want {
				t.Errorf("burst threads' scheduling %q (launched %s), want every thread %s", r.BurstSched, r.BurstLauncher, want)
			}
		})
	}
}

func TestKeysFlagsAreChecked(t *testing.T) {
	for _, args := range [][]string{
		{"keys", "-windows", "0"},
		{"keys", "-window", "10ms"},
		{"keys", "-rate", "0"},
		{"keys", "-senders", "100"},
		{"keys", "-limit", "0"},
		{"keys", "-every", "1us"},
		{"keys", "-burst-priority", "high"},
		{"keys", "-window", "500ms", "-gateway-profile", "p.out"},
		{"burst", "-url", "http://10.0.0.1:8545/"},
		{"burst", "-url", "http://127.0.0.1:8545/", "-rate", "-1"},
		{"burst", "-url", "http://127.0.0.1:8545/", "-for", "1h"},
	} {
		if err := runCommand(context.Background(), args, io.Discard, io.Discard); err == nil {
			t.Errorf("%v: no error", args)
		}
	}
}
