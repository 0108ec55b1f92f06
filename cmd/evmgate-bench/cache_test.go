package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"os/exec"
	"testing"
)

// TestCacheScenarioRunsAsAProcess runs `evmgate-bench cache` briefly, as a
// process with its own fake nodes and gateways, and checks every part
// reports its fields without an error. No figure is judged but one the
// cache decides by itself: a hit asks no node.
func TestCacheScenarioRunsAsAProcess(t *testing.T) {
	if testing.Short() {
		t.Skip("starts 6 processes and loads them for about 8 s")
	}
	cmd := exec.Command(benchBin(t), "cache", "-c", "4", "-dedup-c", "4,8", "-d", "400ms", "-warmup", "200ms",
		"-slow", "20ms", "-dir", t.TempDir())
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("evmgate-bench cache: %v\n%s", err, stderr.Bytes())
	}
	type key struct{ scenario, label, workload string }
	got := map[key]Result{}
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		var r Result
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatalf("line %q: %v", sc.Text(), err)
		}
		if r.Errors != 0 || r.Requests == 0 || r.FirstError != "" {
			t.Errorf("%s %s %s c=%d: %d errors in %d requests (%s)", r.Scenario, r.Label, r.Workload, r.Clients, r.Errors, r.Requests, r.FirstError)
		}
		if r.UpstreamPerCall == nil || r.RPS <= 0 || r.P99us <= 0 {
			t.Errorf("%s %s %s: fields missing: %s", r.Scenario, r.Label, r.Workload, sc.Text())
		}
		if r.Label != "direct" && r.ProxyCPUus < 0 {
			t.Errorf("%s %s: negative proxy CPU", r.Scenario, r.Label)
		}
		got[key{r.Scenario, r.Label, r.Workload}] = r
	}
	if len(got) != 10 {
		t.Fatalf("%d distinct runs, want 10 (6 hit, 2 dedup, 2 hedge): %s", len(got), out)
	}
	for _, w := range []string{"block", "block100k"} {
		on, off := got[key{"hit", "cache", w}], got[key{"hit", "nocache", w}]
		if on.UpstreamPerCall == nil || off.UpstreamPerCall == nil || *on.UpstreamPerCall >= *off.UpstreamPerCall {
			t.Errorf("%s: node calls per client call with the cache %v, without %v: the hits asked the nodes", w, on.UpstreamPerCall, off.UpstreamPerCall)
		}
	}
	for _, l := range []string{"hedge-off", "hedge-on"} {
		if h := got[key{"hedge", l, "balance"}].Hedges; h == nil {
			t.Errorf("%s: no hedge counts", l)
		}
	}
	if h := got[key{"hedge", "hedge-off", "balance"}].Hedges; h["sent"] != 0 {
		t.Errorf("hedging off sent copies: %v", h)
	}
}
