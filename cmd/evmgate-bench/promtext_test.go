package main

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

const exposition = `# HELP go_memstats_mallocs_total Total number of heap objects allocated, both live and gc-ed. Semantically a counter although it was a gauge before.
# TYPE go_memstats_mallocs_total counter
go_memstats_mallocs_total 1.234567e+06
# HELP go_memstats_mallocs_total_extra a longer name that must not count
go_memstats_mallocs_total_extra 99
go_memstats_mallocs_totalx 7
# HELP evmgate_requests_total Requests.
# TYPE evmgate_requests_total counter
evmgate_requests_total{network="bench",status="200"} 40
evmgate_requests_total{network="bench",status="{}"} 2 1700000000000
	evmgate_requests_total{network="other"}   3
evmgate_requests_total_created 1.7e9
`

func TestReadCounter(t *testing.T) {
	for _, c := range []struct {
		name string
		want float64
	}{
		{"go_memstats_mallocs_total", 1234567},
		{"evmgate_requests_total", 45}, // every label set, a timestamp and a '}' in a label value
	} {
		got, err := readCounter(strings.NewReader(exposition), c.name)
		if err != nil || got != c.want {
			t.Errorf("readCounter(%s) = %v, %v; want %v", c.name, got, err, c.want)
		}
	}
	bad := map[string]string{
		"missing":    "# HELP go_memstats_mallocs_total only a comment\ngo_gc_duration_seconds 1\n",
		"not number": "go_memstats_mallocs_total abc\n",
		"NaN":        "go_memstats_mallocs_total NaN\n",
		"no value":   "go_memstats_mallocs_total{a=\"b\"}\n",
		"unclosed":   "go_memstats_mallocs_total{a=\"b\" 1\n",
		"extra":      "go_memstats_mallocs_total 1 2 3\n",
	}
	for what, text := range bad {
		if v, err := readCounter(strings.NewReader(text), mallocsMetric); err == nil {
			t.Errorf("%s: read %v from %q, want an error", what, v, text)
		}
	}
}

func TestScrapeCounterAndMetricsURL(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/metrics" {
			http.NotFound(w, r)
			return
		}
		w.Write([]byte(exposition))
	}))
	defer srv.Close()
	v, err := scrapeCounter(srv.URL+"/metrics", mallocsMetric)
	if err != nil || v != 1234567 {
		t.Fatalf("scrapeCounter = %v, %v", v, err)
	}
	if _, err := scrapeCounter(srv.URL+"/nothing", mallocsMetric); err == nil || !strings.Contains(err.Error(), "404") {
		t.Fatalf("a 404 gave %v", err)
	}
	for _, bad := range []string{"http://localhost:9101/metrics", "https://127.0.0.1:9101/metrics", "http://127.0.0.1/metrics", "127.0.0.1:9101"} {
		if _, err := parseMetricsURL(bad); err == nil {
			t.Errorf("parseMetricsURL(%q) accepted it", bad)
		}
	}
	if u, err := parseMetricsURL(srv.URL + "/metrics"); err != nil || u != srv.URL+"/metrics" {
		t.Fatalf("parseMetricsURL(%s) = %q, %v", srv.URL, u, err)
	}
}
