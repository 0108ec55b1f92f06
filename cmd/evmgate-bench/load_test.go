package main

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/evmgate/evmgate/internal/fakenode"
)

func TestParseTargetOnlyLoopback(t *testing.T) {
	for _, bad := range []string{
		"http://localhost:8545/", "http://10.0.0.1:8545/", "https://127.0.0.1:8545/",
		"http://127.0.0.1/", "http://[::1]:8545/", "http://127.0.0.2:80/", "127.0.0.1:8545",
	} {
		if _, err := parseTarget(bad); err == nil {
			t.Errorf("parseTarget(%q) accepted a target that is not 127.0.0.1:PORT", bad)
		}
	}
	tg, err := parseTarget("http://127.0.0.1:8545/eth?key=1")
	if err != nil {
		t.Fatal(err)
	}
	if tg.addr != "127.0.0.1:8545" || tg.path != "/eth?key=1" {
		t.Fatalf("got %+v", tg)
	}
	if _, err := parseTargets(" , "); err == nil {
		t.Fatal("an empty target list was accepted")
	}
}

func TestRunMeasuresEveryWorkload(t *testing.T) {
	var targets []target
	for range 2 {
		f, err := fakenode.Start(fakenode.Options{Name: "f", ChainID: 1, Head: 1000, BigBlock: blockSize})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(f.Close)
		tg, err := parseTarget(f.URL())
		if err != nil {
			t.Fatal(err)
		}
		targets = append(targets, tg)
	}
	for _, w := range workloads {
		if w.Method == "GET" {
			continue // a REST route: TestStagedProfileOverThreePaths
		}
		r, err := run(loadConfig{
			Label: "direct", Targets: targets, Workload: w, Clients: 4,
			Warmup: 20 * time.Millisecond, Duration: 150 * time.Millisecond, Timeout: 5 * time.Second,
			ProxyPID: os.Getpid(),
		})
		if err != nil {
			t.Fatal(err)
		}
		if r.Requests == 0 || r.Errors != 0 || r.FirstError != "" {
			t.Fatalf("%s: %d requests, %d errors (%s)", w.Name, r.Requests, r.Errors, r.FirstError)
		}
		if r.TotalRequests < r.Requests || r.RPS <= 0 || r.P99us < r.P50us || r.P50us <= 0 {
			t.Fatalf("%s: inconsistent result %+v", w.Name, r)
		}
		if r.BytesPerReq < int64(w.MinSize) {
			t.Fatalf("%s: %d bytes per answer, want at least %d", w.Name, r.BytesPerReq, w.MinSize)
		}
	}
}

func TestRunCountsFailures(t *testing.T) {
	f, err := fakenode.Start(fakenode.Options{Name: "f", ChainID: 1, Head: 1000})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(f.Close)
	if err := f.SetMode(fakenode.Status500); err != nil {
		t.Fatal(err)
	}
	tg, _ := parseTarget(f.URL())
	w, _ := workloadByName("blockNumber")
	r, err := run(loadConfig{Targets: []target{tg}, Workload: w, Clients: 2,
		Duration: 100 * time.Millisecond, Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if r.Errors == 0 || r.Errors != r.Requests || !strings.Contains(r.FirstError, "http 500") {
		t.Fatalf("%d errors of %d requests, first %q; want every request failed with http 500", r.Errors, r.Requests, r.FirstError)
	}
}

func TestWorkloadCheck(t *testing.T) {
	small, _ := workloadByName("blockNumber")
	batch, _ := workloadByName("batch10")
	block, _ := workloadByName("block100k")
	good := `{"jsonrpc":"2.0","id":1,"result":"0x1"}`
	cases := []struct {
		w    workload
		body string
		ok   bool
	}{
		{small, good, true},
		{small, `{"jsonrpc":"2.0","id":1,"error":{"code":-32000,"message":"x"}}`, false},
		{batch, "[" + strings.Repeat(good+",", 9) + good + "]", true},
		{batch, "[" + strings.Repeat(good+",", 8) + good + "]", false},
		{block, `{"jsonrpc":"2.0","id":7,"result":{"x":"` + strings.Repeat("a", blockSize) + `"}}`, true},
		{block, good, false},
	}
	for i, c := range cases {
		if err := c.w.check([]byte(c.body)); (err == nil) != c.ok {
			t.Errorf("case %d (%s): check = %v, want ok %v", i, c.w.Name, err, c.ok)
		}
	}
	if _, err := workloadByName("nope"); err == nil {
		t.Error("unknown workload accepted")
	}
}

func TestPercentile(t *testing.T) {
	var d []time.Duration
	for i := 1; i <= 100; i++ {
		d = append(d, time.Duration(i))
	}
	if p := percentile(d, 0.5); p != 50 {
		t.Errorf("p50 = %d, want 50", p)
	}
	if p := percentile(d, 0.99); p != 99 {
		t.Errorf("p99 = %d, want 99", p)
	}
	if p := percentile(d[:1], 0.99); p != 1 {
		t.Errorf("p99 of one = %d, want 1", p)
	}
}

func TestProcReaders(t *testing.T) {
	if _, err := procCPU(os.Getpid()); err != nil {
		t.Fatal(err)
	}
	rss, peak, err := procMemory(os.Getpid())
	if err != nil || rss <= 0 || peak < rss {
		t.Fatalf("rss %d, peak %d, err %v", rss, peak, err)
	}
	if _, err := procCPU(-1); err == nil {
		t.Fatal("no error for a missing process")
	}
}

func TestReportRatios(t *testing.T) {
	// Three rounds of haproxy: the fastest (20000) stands for them.
	lines := `{"label":"haproxy","workload":"blockNumber","clients":16,"rps":20000,"p50_us":500,"p99_us":2000,"proxy_cpu_us":25}
{"label":"evmgate","workload":"blockNumber","clients":16,"rps":10000,"p50_us":900,"p99_us":4000,"proxy_cpu_us":60}
{"label":"haproxy","workload":"blockNumber","clients":16,"rps":5000,"p50_us":500,"p99_us":2000,"proxy_cpu_us":99}
{"label":"haproxy","workload":"blockNumber","clients":16,"rps":15000,"p50_us":500,"p99_us":2000,"proxy_cpu_us":20}
`
	out := reportOf(t, lines)
	for _, want := range []string{"| blockNumber | 16 | evmgate | 0.50× | 60.0 | 25.0 |", "| blockNumber | 16 | haproxy | 20000 |"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("report lacks %q:\n%s", want, out.String())
		}
	}
	if n := strings.Count(out.String(), "| haproxy |"); n != 1 {
		t.Errorf("haproxy appears in %d rows, want 1 (its fastest round):\n%s", n, out.String())
	}
}

func TestLoadRefusesUnboundedRuns(t *testing.T) {
	for _, args := range [][]string{
		{"load", "-url", "http://127.0.0.1:1/", "-c", "0"},
		{"load", "-url", "http://127.0.0.1:1/", "-c", "5000"},
		{"load", "-url", "http://127.0.0.1:1/", "-d", "1h"},
		{"load", "-url", "http://example.com:80/"},
	} {
		var out bytes.Buffer
		if err := runCommand(context.Background(), args, &out, &out); err == nil {
			t.Errorf("%v: no error", args)
		}
	}
}

func TestRunReadsAllocationsAtBothEnds(t *testing.T) {
	f, err := fakenode.Start(fakenode.Options{Name: "f", ChainID: 1, Head: 1000})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(f.Close)
	tg, err := parseTarget(f.URL())
	if err != nil {
		t.Fatal(err)
	}
	// Each scrape reports 1,000 more allocations than the one before.
	var scrapes atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprintf(w, "# TYPE go_memstats_mallocs_total counter\ngo_memstats_mallocs_total %d\n", 1000*scrapes.Add(1))
	}))
	t.Cleanup(srv.Close)
	w, err := workloadByName("blockNumber")
	if err != nil {
		t.Fatal(err)
	}
	r, err := run(loadConfig{
		Label: "evmgate", Targets: []target{tg}, Workload: w, Clients: 1, MetricsURL: srv.URL + "/metrics",
		Warmup: 20 * time.Millisecond, Duration: 150 * time.Millisecond, Timeout: 5 * time.Second,
	})
	if err != nil {
		t.Fatal(err)
	}
	if scrapes.Load() != 2 || r.Requests == 0 {
		t.Fatalf("%d scrapes, %d requests; want 2 scrapes", scrapes.Load(), r.Requests)
	}
	if want := 1000 / float64(r.Requests); r.AllocsPerReq != want {
		t.Fatalf("allocs/req %v, want %v", r.AllocsPerReq, want)
	}
	srv.Close()
	if _, err := run(loadConfig{
		Label: "evmgate", Targets: []target{tg}, Workload: w, Clients: 1, MetricsURL: srv.URL + "/metrics",
		Duration: 50 * time.Millisecond, Timeout: 5 * time.Second,
	}); err == nil {
		t.Fatal("no error when the metrics listener is gone")
	}
}

func TestReportLatencyAndAllocations(t *testing.T) {
	lines := `{"label":"haproxy","workload":"blockNumber","clients":16,"requests":9,"rps":20000,"p50_us":500,"p99_us":2000,"proxy_cpu_us":25}
{"label":"evmgate","workload":"blockNumber","clients":16,"requests":9,"rps":10000,"p50_us":900,"p99_us":4000,"proxy_cpu_us":60,"allocs_per_req":41.25}
{"label":"haproxy","workload":"blockNumber","clients":1,"requests":9,"rps":4000,"p50_us":240.4,"p99_us":700}
{"label":"evmgate","workload":"blockNumber","clients":1,"requests":9,"rps":3000,"p50_us":310.25,"p99_us":900,"allocs_per_req":40}
{"label":"direct","workload":"blockNumber","clients":1,"requests":9,"rps":8000,"p50_us":120,"p99_us":400}
{"label":"direct","workload":"blockNumber","clients":1,"requests":9,"rps":6000,"p50_us":150,"p99_us":800}
`
	out := reportOf(t, lines)
	for _, want := range []string{
		"| blockNumber | 16 | evmgate | 10000 | 0.90 | 4.00 | 0 | 60.0 | 41.2 |",
		"| blockNumber | 16 | haproxy | 20000 | 0.50 | 2.00 | 0 | 25.0 | – |",
		"| workload | c | target | req/s | p50 ms | p99 ms | errors | added p50 ms over direct |",
		"| blockNumber | 1 | haproxy | 4000 | 0.240 | 0.700 | 0 | 0.120 |",
		"| blockNumber | 1 | evmgate | 3000 | 0.310 | 0.900 | 0 | 0.190 |",
		"| blockNumber | 1 | direct | 8000 | 0.120 | 0.400 | 0 | – |",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("report lacks %q:\n%s", want, out.String())
		}
	}
	if strings.Contains(out.String(), "| blockNumber | 1 | evmgate | 0.") {
		t.Errorf("a one-client run is in the ratio table:\n%s", out.String())
	}
}

// reportOf runs the report command over results lines and returns its output.
func reportOf(t *testing.T, lines string) *bytes.Buffer {
	t.Helper()
	path := filepath.Join(t.TempDir(), "r.jsonl")
	if err := os.WriteFile(path, []byte(lines), 0o600); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if err := runCommand(context.Background(), []string{"report", path}, &out, &out); err != nil {
		t.Fatal(err)
	}
	return &out
}
