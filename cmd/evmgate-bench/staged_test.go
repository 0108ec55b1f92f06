package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/evmgate/evmgate/internal/config"
	"github.com/evmgate/evmgate/internal/fakenode"
	"github.com/evmgate/evmgate/internal/gateway"
)

func TestStagesParseAndScale(t *testing.T) {
	st, err := parseStages(defaultStages)
	if err != nil {
		t.Fatal(err)
	}
	want := []stage{{10 * time.Second, 10}, {30 * time.Second, 200}, {2 * time.Minute, 500}, {time.Minute, 200}, {10 * time.Second, 50}, {10 * time.Second, 10}}
	if len(st) != len(want) {
		t.Fatalf("stages %v, want %v", st, want)
	}
	for i := range want {
		if st[i] != want[i] {
			t.Fatalf("stage %d: %v, want %v", i+1, st[i], want[i])
		}
	}
	sc := newSchedule(scaleStages(st, 0.3, 1))
	if sc.total() != 72*time.Second {
		t.Fatalf("scaled by 0.3 the stages last %s, want 72s", sc.total())
	}
	if tiny := scaleStages(st, 1, 0.001); tiny[2].Target != 1 {
		t.Fatalf("a target scaled under 1 became %d users, want 1", tiny[2].Target)
	}
	for _, bad := range []string{"", "10s", "10s:x", "0s:5", "-1s:5", "10s:-1", "10s:10,,5s:1"} {
		if _, err := parseStages(bad); err == nil {
			t.Errorf("parseStages(%q) accepted it", bad)
		}
	}
}

// The users ramp linearly from the previous stage's target, as k6's stages
// do.
func TestScheduleRamps(t *testing.T) {
	sc := newSchedule([]stage{{10 * time.Second, 10}, {10 * time.Second, 200}, {10 * time.Second, 0}})
	for _, c := range []struct {
		at          time.Duration
		stage, user int
	}{
		{0, 0, 0}, {5 * time.Second, 0, 5}, {10 * time.Second, 1, 10}, {15 * time.Second, 1, 105},
		{20 * time.Second, 2, 200}, {29 * time.Second, 2, 20}, {30 * time.Second, -1, 0},
	} {
		if s, u := sc.stageAt(c.at), sc.usersAt(c.at); s != c.stage || u != c.user {
			t.Errorf("at %s: stage %d with %d users, want stage %d with %d", c.at, s, u, c.stage, c.user)
		}
	}
}

// A tiny staged profile runs over each of the three paths of the REST API
// (HTTP, HTTP with /ws/ routes, and WebSocket socket2socket) against a
// gateway in front of fake nodes, and reports every stage.
func TestStagedProfileOverThreePaths(t *testing.T) {
	var yaml strings.Builder
	yaml.WriteString("log_level: WARN\nlog_requests: false\nnetworks:\n  - name: bench\n    rest_api: true\n    local_nodes:\n")
	for range 2 {
		f, err := fakenode.Start(fakenode.Options{Name: "f", ChainID: 1, Head: 1000})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(f.Close)
		yaml.WriteString("      - rpc_endpoint: " + f.URL() + "\n")
	}
	cfg, err := config.Parse([]byte(yaml.String()), func(string) (string, bool) { return "", false })
	if err != nil {
		t.Fatal(err)
	}
	g, err := gateway.StartLocal(context.Background(), cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		g.Close(ctx)
	})
	ws := "ws" + strings.TrimPrefix(g.RPCURL(), "http")
	results := filepath.Join(t.TempDir(), "staged.jsonl")
	for _, p := range []struct{ label, url, workload string }{
		{"http-http", g.RPCURL() + "/bench/blocknumber", "restBlockNumber"},
		{"http-ws", g.RPCURL() + "/bench/ws/blocknumber", "restBlockNumber"},
		{"ws-ws", ws + "/bench/socket2socket", "blockNumber"},
	} {
		// The built binary, run as a user runs bench/load-profile.sh.
		var out, errOut bytes.Buffer
		cmd := exec.Command(benchBin(t), "load", "-profile", "staged", "-label", p.label, "-url", p.url,
			"-workload", p.workload, "-stages", "400ms:4,800ms:8,400ms:2", "-time-scale", "1")
		cmd.Stdout, cmd.Stderr = &out, &errOut
		if err := cmd.Run(); err != nil {
			t.Fatalf("%s: %v\n%s", p.label, err, errOut.String())
		}
		var r Result
		if err := json.Unmarshal(out.Bytes(), &r); err != nil {
			t.Fatalf("%s: %v: %s", p.label, err, out.String())
		}
		checkStaged(t, p.label, r)
		if n := strings.Count(errOut.String(), p.label+" "); n != 3 {
			t.Errorf("%s: %d stage lines on stderr, want 3:\n%s", p.label, n, errOut.String())
		}
		appendFile(t, results, out.Bytes())
	}
	var md bytes.Buffer
	if err := runCommand(context.Background(), []string{"report", results}, &md, io.Discard); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"**http-http** (restBlockNumber", "**ws-ws** (blockNumber", "| stage | seconds | users | calls/s | p50 ms | p95 ms | p99 ms | errors |", "| 2 | 0.8 | 4 → 8 |"} {
		if !strings.Contains(md.String(), want) {
			t.Errorf("report lacks %q:\n%s", want, md.String())
		}
	}
}

func checkStaged(t *testing.T, label string, r Result) {
	t.Helper()
	if r.Profile != "staged" || r.Label != label || r.Clients != 8 || len(r.Stages) != 3 || r.TimeScale != 1 || r.UserScale != 1 {
		t.Fatalf("%s: result %+v", label, r)
	}
	if r.Errors != 0 || r.FirstError != "" {
		t.Fatalf("%s: %d errors, first %q", label, r.Errors, r.FirstError)
	}
	from := 0
	var calls int64
	for i, s := range r.Stages {
		if s.Stage != i+1 || s.UsersFrom != from || s.Calls == 0 || s.RPS <= 0 || s.P50us <= 0 || s.P95us < s.P50us || s.P99us < s.P95us {
			t.Errorf("%s: stage %d: %+v", label, i+1, s)
		}
		from = s.UsersTo
		calls += s.Calls
	}
	if calls != r.Requests || r.Seconds < 1.5 || r.RPS <= 0 {
		t.Errorf("%s: totals %d calls in %.1fs, stages add up to %d", label, r.Requests, r.Seconds, calls)
	}
}

func appendFile(t *testing.T, path string, b []byte) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.Write(b); err != nil {
		t.Fatal(err)
	}
}

func TestStagedRefusesUnboundedRuns(t *testing.T) {
	for _, args := range [][]string{
		{"-stages", "40m:1"},
		{"-stages", "10s:5000"},
		{"-stages", "1m:10", "-time-scale", "11"},
		{"-stages", "1m:10", "-user-scale", "0"},
		{"-stages", "1s:1", "-url", "ws://127.0.0.1:1/x", "-workload", "restBlockNumber"},
		{"-profile", "bursty"},
	} {
		full := append([]string{"load", "-profile", "staged", "-url", "http://127.0.0.1:1/x"}, args...)
		if err := runCommand(context.Background(), full, io.Discard, io.Discard); err == nil {
			t.Errorf("%v: no error", args)
		}
	}
}

var (
	benchOnce sync.Once
	benchPath string
	benchErr  error
)

func TestMain(m *testing.M) {
	code := m.Run()
	if benchPath != "" {
		os.RemoveAll(filepath.Dir(benchPath))
	}
	os.Exit(code)
}

// benchBin builds evmgate-bench once per test binary and returns its path.
func benchBin(t *testing.T) string {
	t.Helper()
	benchOnce.Do(func() {
		dir, err := os.MkdirTemp("", "evmgate-bench-bin-")
		if err != nil {
			benchErr = err
			return
		}
		benchPath = filepath.Join(dir, "evmgate-bench")
		if out, err := exec.Command("go", "build", "-o", benchPath, ".").CombinedOutput(); err != nil {
			benchErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if benchErr != nil {
		t.Fatal(benchErr)
	}
	return benchPath
}
