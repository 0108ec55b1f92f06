package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// mallocsMetric is the Go runtime's count of heap objects allocated since
// the process started, as the Prometheus Go collector exports it.
const mallocsMetric = "go_memstats_mallocs_total"

// parseMetricsURL accepts only an http:// URL on 127.0.0.1, like the load
// targets.
func parseMetricsURL(raw string) (string, error) {
	u, err := url.Parse(raw)
	if err != nil || u.Scheme != "http" || u.Hostname() != "127.0.0.1" || u.Port() == "" {
		return "", fmt.Errorf("-metrics %q: give http://127.0.0.1:PORT/metrics", raw)
	}
	return u.String(), nil
}

// scrapeCounter fetches a Prometheus text exposition and returns the named
// metric's value.
func scrapeCounter(metricsURL, name string) (float64, error) {
	cl := http.Client{Timeout: 5 * time.Second}
	resp, err := cl.Get(metricsURL)
	if err != nil {
		return 0, fmt.Errorf("reading %s: %w", name, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return 0, fmt.Errorf("reading %s: %s answered %s", name, metricsURL, resp.Status)
	}
	v, err := readCounter(resp.Body, name)
	if err != nil {
		return 0, fmt.Errorf("%s: %w", metricsURL, err)
	}
	return v, nil
}

// readCounter returns the sum of the samples of the metric called name in a
// Prometheus text exposition (every label set of it; a metric without labels
// has one sample). Comments and other metrics, including ones whose name
// only begins with name, are skipped. A missing metric is an error.
func readCounter(r io.Reader, name string) (float64, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	var sum float64
	found := false
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		rest, ok := strings.CutPrefix(line, name)
		if !ok || strings.HasPrefix(line, "#") {
			continue
		}
		switch {
		case strings.HasPrefix(rest, "{"):
			end := strings.LastIndexByte(rest, '}')
			if end < 0 {
				return 0, fmt.Errorf("metric line %q: unclosed labels", line)
			}
			rest = rest[end+1:]
		case strings.HasPrefix(rest, " "), strings.HasPrefix(rest, "\t"):
		default:
			continue // another metric: name_bucket, name2, …
		}
		f := strings.Fields(rest) // value [timestamp]
		if len(f) == 0 || len(f) > 2 {
			return 0, fmt.Errorf("metric line %q: want a value and at most a timestamp", line)
		}
		v, err := strconv.ParseFloat(f[0], 64)
		if err != nil || math.IsNaN(v) {
			return 0, fmt.Errorf("metric line %q: %q is not a number", line, f[0])
		}
		sum += v
		found = true
	}
	if err := sc.Err(); err != nil {
		return 0, fmt.Errorf("reading metrics: %w", err)
	}
	if !found {
		return 0, errors.New(name + " is not exported (is the Go collector registered?)")
	}
	return sum, nil
}
