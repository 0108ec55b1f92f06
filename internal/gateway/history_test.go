package gateway

import (
	"encoding/json"
	"math"
	"slices"
	"testing"
	"time"
)

func TestQuantile(t *testing.T) {
	bounds := []float64{0.001, 0.01, 0.1, 1}
	tests := []struct {
		name  string
		q     float64
		cum   []uint64
		total uint64
		want  float64
	}{
		{"no observations", 0.5, []uint64{0, 0, 0, 0}, 0, math.NaN()},
		{"all in the first bucket: interpolated from 0", 0.5, []uint64{10, 10, 10, 10}, 10, 0.0005},
		{"median inside the second bucket", 0.5, []uint64{0, 10, 10, 10}, 10, 0.0055},
		{"p99 in the third bucket", 0.99, []uint64{50, 90, 100, 100}, 100, 0.01 + 0.09*0.9},
		{"beyond the last bound", 0.99, []uint64{0, 0, 0, 1}, 10, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := quantile(tt.q, bounds, tt.cum, tt.total)
			if math.IsNaN(tt.want) != math.IsNaN(got) || (!math.IsNaN(got) && math.Abs(got-tt.want) > 1e-12) {
				t.Errorf("quantile = %v, want %v", got, tt.want)
			}
		})
	}
}

// reading0 is a network reading with one node a and calls, tries and
// errors so far.
func reading0(at time.Time, calls, tries, errs float64, lag float64, hist []uint64) reading {
	return reading{at: at, nets: []netReading{{
		name: "mainnet", calls: calls, bounds: []float64{0.01, 0.1}, buckets: hist, count: hist[len(hist)-1],
		nodes: []nodeReading{{name: "a", lag: lag, tries: tries, errors: errs}},
	}}}
}

func TestHistoryRatesAndWindow(t *testing.T) {
	h := newHistory()
	t0 := time.Unix(1_700_000_000, 0)
	h.add(reading0(t0, 10, 10, 0, 0, []uint64{10, 10}))
	h.add(reading0(t0.Add(time.Second), 30, 30, 5, 2, []uint64{10, 30}))
	h.add(reading0(t0.Add(3*time.Second), 30, 30, 5, math.NaN(), []uint64{10, 30})) // a 2 s gap, no calls

	b, err := json.Marshal(h.snapshot(0))
	if err != nil {
		t.Fatal(err)
	}
	want := `{"interval_seconds":1,"networks":[{"name":"mainnet","time":[1700000000000,1700000001000,1700000003000],` +
		`"calls_per_second":[10,20,0],"latency_p50_ms":[5,55,null],"latency_p99_ms":[9.9,99.1,null],` +
		`"nodes":[{"name":"a","lag":[0,2,null],"calls_per_second":[10,20,0]}]}]}`
	if string(b) != want {
		t.Errorf("history:\n got %s\nwant %s", b, want)
	}
	if r := h.errorRates("mainnet"); r["a"] != 5.0/30 {
		t.Errorf("error rate %v, want 5 failed of 30 tries", r)
	}
	if r := h.errorRates("other"); len(r) != 0 {
		t.Errorf("error rates of an unknown network: %v", r)
	}

	since := h.snapshot(t0.Add(time.Second).UnixMilli())
	if len(since.Networks) != 1 || len(since.Networks[0].Time) != 1 || since.Networks[0].Time[0] != t0.Add(3*time.Second).UnixMilli() {
		t.Errorf("since: %+v", since)
	}
	if none := h.snapshot(t0.Add(time.Hour).UnixMilli()); len(none.Networks) != 0 {
		t.Errorf("nothing after the last sample, got %+v", none)
	}
}

func TestHistoryKeepsFiveMinutes(t *testing.T) {
	h := newHistory()
	t0 := time.Unix(1_700_000_000, 0)
	for i := range historyLen + 50 {
		h.add(reading0(t0.Add(time.Duration(i)*time.Second), float64(i), float64(i), 0, 0, []uint64{0, 0}))
	}
	s := h.snapshot(0).Networks[0]
	if len(s.Time) != historyLen || s.Time[0] != t0.Add(50*time.Second).UnixMilli() {
		t.Fatalf("kept %d samples from %d", len(s.Time), s.Time[0])
	}
}

// A node that joins later has null before it appeared; the error window
// covers the last errorWindow samples only.
func TestHistoryNodesComeAndGo(t *testing.T) {
	h := newHistory()
	t0 := time.Unix(1_700_000_000, 0)
	h.add(reading{at: t0, nets: []netReading{{name: "n", nodes: []nodeReading{{name: "a", tries: 10, errors: 10}}}}})
	for i := 1; i <= errorWindow; i++ {
		h.add(reading{at: t0.Add(time.Duration(i) * time.Second), nets: []netReading{{name: "n", nodes: []nodeReading{
			{name: "a", tries: 10 + float64(i), errors: 10},
			{name: "b", tries: float64(i), errors: float64(i)},
		}}}})
	}
	nh := h.snapshot(0).Networks[0]
	if len(nh.Nodes) != 2 || nh.Nodes[1].Name != "b" || !math.IsNaN(nh.Nodes[1].Lag[0]) {
		t.Fatalf("nodes %+v", nh.Nodes)
	}
	if b := nh.Nodes[1].CallsPerSecond; !math.IsNaN(b[1]) || b[2] != 1 {
		t.Errorf("b's calls/s %v: none in its first sample (its counter may predate it), then 1", b[:3])
	}
	r := h.errorRates("n")
	if r["a"] != 0 || r["b"] != 1 {
		t.Errorf("error rates %v: a's early errors are out of the window, b fails every try", r)
	}
}

func TestHistoryCloseWithoutStart(t *testing.T) {
	newHistory().Close()
}

// A network a reload adds has no rate in its first sample: its counters
// may have run before (the same name earlier).
func TestHistoryNetworkAddedLater(t *testing.T) {
	h := newHistory()
	t0 := time.Unix(1_700_000_000, 0)
	h.add(reading0(t0, 0, 0, 0, 0, []uint64{0, 0}))
	later := reading0(t0.Add(time.Second), 500, 500, 0, 0, []uint64{500, 500})
	later.nets[0].name = "added"
	later.nets = append(later.nets, reading0(t0.Add(time.Second), 0, 0, 0, 0, []uint64{0, 0}).nets...)
	h.add(later)
	again := reading0(t0.Add(2*time.Second), 510, 510, 0, 0, []uint64{510, 510})
	again.nets[0].name = "added"
	h.add(again)
	for _, nh := range h.snapshot(0).Networks {
		if nh.Name != "added" {
			continue
		}
		if c := nh.CallsPerSecond; len(c) != 3 || !math.IsNaN(c[0]) || !math.IsNaN(c[1]) || c[2] != 10 {
			t.Errorf("calls/s of the added network %v, want [null null 10]", c)
		}
		return
	}
	t.Fatal("the added network is not in the history")
}

// Shares of the recent calls, and none once the calls have faded: both
// sides of a share decay alike, so the last shares would otherwise stay.
func TestCallShares(t *testing.T) {
	for _, c := range []struct {
		recent, want []float64
	}{
		{[]float64{30, 10}, []float64{0.75, 0.25}},
		{[]float64{1, 0}, []float64{1, 0}},
		{[]float64{0.1, 0.05}, []float64{0, 0}}, // faded: was 2 to 1
		{[]float64{0, 0}, []float64{0, 0}},
		{nil, []float64{}},
	} {
		if got := callShares(c.recent); !slices.Equal(got, c.want) {
			t.Errorf("callShares(%v) = %v, want %v", c.recent, got, c.want)
		}
	}
}
