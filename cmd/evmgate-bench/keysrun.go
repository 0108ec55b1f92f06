package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"slices"
	"strings"
	"time"
)

// keysWindow is one window of the keys scenario. Latency is from writing
// a calm call to reading its answer's last byte; only good answers count.
type keysWindow struct {
	Kind         string       `json:"kind"` // quiet or burst
	Seconds      float64      `json:"seconds"`
	Calls        int          `json:"calls"` // calm calls answered with a good 200
	Errors       int          `json:"errors"`
	P50us        float64      `json:"p50_us"`
	P99us        float64      `json:"p99_us"`
	MaxUs        float64      `json:"max_us"`
	GatewayCPUms float64      `json:"gateway_cpu_ms"`
	Burst        *burstCounts `json:"burst,omitempty"` // over the burst process's life
	BurstSched   string       `json:"burst_sched,omitempty"`

	lat        []time.Duration // sorted
	firstError string
}

// keysSide sums the windows of one kind.
type keysSide struct {
	Windows       int     `json:"windows"`
	Calls         int     `json:"calls"`
	Errors        int     `json:"errors"`
	P50us         float64 `json:"p50_us"` // of all the kind's calls together
	P99us         float64 `json:"p99_us"`
	MedianP50us   float64 `json:"median_p50_us"` // median of the windows' figures
	MedianP99us   float64 `json:"median_p99_us"`
	MinP99us      float64 `json:"min_p99_us"` // the windows' lowest and highest
	MaxP99us      float64 `json:"max_p99_us"`
	GatewayCPUPct float64 `json:"gateway_cpu_pct"` // of one core
}

// keysResult is the keys scenario's report.
type keysResult struct {
	Scenario      string   `json:"scenario"`
	WindowSeconds float64  `json:"window_seconds"`
	CalmEveryUs   float64  `json:"calm_every_us"`
	BurstRate     float64  `json:"burst_rate"`
	BurstSenders  int      `json:"burst_senders"`
	BurstyLimit   int      `json:"bursty_limit"`
	BurstPriority string   `json:"burst_priority"`
	BurstLauncher string   `json:"burst_launcher"`
	BurstSched    string   `json:"burst_sched"`
	Quiet         keysSide `json:"quiet"`
	Burst         keysSide `json:"burst"`
	// The calm key's p99 in the burst windows over the quiet ones, minus
	// one, in %: of the windows' medians and of all calls pooled.
	RiseMedianP99Pct *float64    `json:"rise_median_p99_pct"`
	RisePooledP99Pct *float64    `json:"rise_pooled_p99_pct"`
	CalmFirstError   string      `json:"calm_first_error,omitempty"`
	BurstCounts      burstCounts `json:"burst_counts"`
	BurstSentPerSec  float64     `json:"burst_sent_per_s"`
	// The gateway's CPU time in the burst windows beyond its quiet-window
	// rate, per burst call sent during them (nearly all refused).
	GatewayCPUPerBurstCallUs *float64     `json:"gateway_cpu_per_burst_call_us"`
	BurstCPUPerCallUs        float64      `json:"burst_cpu_per_call_us"`
	PerWindow                []keysWindow `json:"per_window"`
}

// run warms up, then runs the quiet and burst windows in turn.
func (s *keysSetup) run(ctx context.Context, stderr io.Writer) (keysResult, error) {
	w := mustWorkload("blockNumber")
	t, err := parseTarget(s.calmURL)
	if err != nil {
		return keysResult{}, err
	}
	calm := newConn(t, "", w.Body, 10*time.Second)
	defer calm.close()
	if err := s.steady(ctx, calm, &w, s.flags.warmup, &keysWindow{}); err != nil {
		return keysResult{}, err
	}
	r := keysResult{
		Scenario: "keys", WindowSeconds: s.flags.window.Seconds(), CalmEveryUs: micros(s.flags.every),
		BurstRate: s.flags.rate, BurstSenders: s.flags.senders, BurstyLimit: s.flags.limit,
	}
	for i := range 2 * s.flags.windows {
		burst := i%2 == 1
		win, err := s.window(ctx, i+1, burst, calm, &w, burst && i == 1 && s.flags.profile != "")
		if err != nil {
			return r, err
		}
		printWindow(stderr, i+1, win)
		r.PerWindow = append(r.PerWindow, win)
	}
	r.summarize()
	return r, nil
}

// window runs one window: the burst process (when burst) is started before
// it and stopped after it, so a quiet window has no burst traffic at all.
func (s *keysSetup) window(ctx context.Context, n int, burst bool, calm *conn, w *workload, profile bool) (keysWindow, error) {
	win := keysWindow{Kind: "quiet"}
	var b *child
	if burst {
		win.Kind = "burst"
		var err error
		if b, win.BurstSched, err = s.startBurst(n); err != nil {
			return win, err
		}
	}
	var prof chan error
	if profile {
		prof = s.profileGateway()
	}
	cpu0, err := procCPU(s.gateway.pid())
	if err != nil {
		return win, err
	}
	start := time.Now()
	if err := s.steady(ctx, calm, w, s.flags.window, &win); err != nil {
		return win, err
	}
	win.Seconds = time.Since(start).Seconds()
	cpu1, err := procCPU(s.gateway.pid())
	if err != nil {
		return win, err
	}
	win.GatewayCPUms = float64(cpu1-cpu0) / float64(time.Millisecond)
	if prof != nil {
		if err := <-prof; err != nil {
			return win, fmt.Errorf("profiling the gateway: %w", err)
		}
	}
	if b != nil {
		counts, err := endBurst(b)
		if err != nil {
			return win, err
		}
		win.Burst = &counts
	}
	slices.Sort(win.lat)
	win.P50us, win.P99us = micros(percentile(win.lat, 0.50)), micros(percentile(win.lat, 0.99))
	if len(win.lat) > 0 {
		win.MaxUs = micros(win.lat[len(win.lat)-1])
	}
	return win, nil
}

// steady calls c once every -every for d, adding to win. A call that takes
// longer than the pace delays the next one; calls it made miss are skipped.
func (s *keysSetup) steady(ctx context.Context, c *conn, w *workload, d time.Duration, win *keysWindow) error {
	every := s.flags.every
	t := time.NewTimer(0)
	defer t.Stop()
	next := time.Now()
	end := next.Add(d)
	for next.Before(end) {
		select {
		case <-ctx.Done():
			return fmt.Errorf("stopped: %w", context.Cause(ctx))
		case <-t.C:
		}
		begin := time.Now()
		err := c.roundTrip()
		if err == nil {
			err = w.check(c.answer())
		}
		if err != nil {
			win.Errors++
			if win.firstError == "" {
				win.firstError = err.Error()
			}
		} else {
			win.lat = append(win.lat, time.Since(begin))
			win.Calls++
		}
		next = next.Add(every)
		if now := time.Now(); now.Sub(next) > every {
			next = now
		}
		t.Reset(time.Until(next))
	}
	return nil
}

// profileGateway fetches the gateway's CPU profile for the window's whole
// seconds into -gateway-profile.
func (s *keysSetup) profileGateway() chan error {
	secs := int(s.flags.window / time.Second)
	done := make(chan error, 1)
	go func() {
		cl := http.Client{Timeout: time.Duration(secs)*time.Second + 30*time.Second}
		resp, err := cl.Get(fmt.Sprintf("http://%s/debug/pprof/profile?seconds=%d", s.pprof, secs))
		if err != nil {
			done <- err
			return
		}
		defer resp.Body.Close()
		f, err := os.Create(s.flags.profile)
		if err == nil {
			_, err = io.Copy(f, resp.Body)
			if cerr := f.Close(); err == nil {
				err = cerr
			}
		}
		if err == nil && resp.StatusCode != http.StatusOK {
			err = fmt.Errorf("profile: %s", resp.Status)
		}
		done <- err
	}()
	return done
}

// summarize fills the sums of each kind of window and the rises.
func (r *keysResult) summarize() {
	var quietCPU, quietSecs, burstCPU, burstSecs, burstCalls float64
	var scheds []string
	for k, side := range []*keysSide{&r.Quiet, &r.Burst} {
		var all []time.Duration
		var p50s, p99s []float64
		var cpu, secs float64
		for _, win := range r.PerWindow {
			if (win.Kind == "burst") != (k == 1) {
				continue
			}
			side.Windows++
			side.Calls += win.Calls
			side.Errors += win.Errors
			if r.CalmFirstError == "" {
				r.CalmFirstError = win.firstError
			}
			all = append(all, win.lat...)
			p50s, p99s = append(p50s, win.P50us), append(p99s, win.P99us)
			cpu += win.GatewayCPUms
			secs += win.Seconds
			if win.Burst != nil {
				r.BurstCounts.add(*win.Burst)
				// The burst's calls during the window: its count scaled by
				// the window's share of the burst process's life.
				burstCalls += float64(win.Burst.Sent) * min(1, win.Seconds/win.Burst.Seconds)
				if !slices.Contains(scheds, win.BurstSched) {
					scheds = append(scheds, win.BurstSched)
				}
			}
		}
		slices.Sort(all)
		side.P50us, side.P99us = micros(percentile(all, 0.50)), micros(percentile(all, 0.99))
		side.MedianP50us, side.MedianP99us = median(p50s), median(p99s)
		if len(p99s) > 0 {
			side.MinP99us, side.MaxP99us = slices.Min(p99s), slices.Max(p99s)
		}
		if secs > 0 {
			side.GatewayCPUPct = cpu / 10 / secs
		}
		if k == 0 {
			quietCPU, quietSecs = cpu, secs
		} else {
			burstCPU, burstSecs = cpu, secs
		}
	}
	r.BurstSched = strings.Join(scheds, " / ")
	r.RiseMedianP99Pct = rise(r.Quiet.MedianP99us, r.Burst.MedianP99us)
	r.RisePooledP99Pct = rise(r.Quiet.P99us, r.Burst.P99us)
	if r.BurstCounts.Seconds > 0 {
		r.BurstSentPerSec = float64(r.BurstCounts.Sent) / r.BurstCounts.Seconds
	}
	if r.BurstCounts.Sent > 0 {
		r.BurstCPUPerCallUs = r.BurstCounts.CPUus / float64(r.BurstCounts.Sent)
	}
	if burstCalls > 0 && quietSecs > 0 {
		per := (burstCPU - quietCPU/quietSecs*burstSecs) * 1000 / burstCalls
		r.GatewayCPUPerBurstCallUs = &per
	}
}

func median(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	v = slices.Clone(v)
	slices.Sort(v)
	if len(v)%2 == 1 {
		return v[len(v)/2]
	}
	return (v[len(v)/2-1] + v[len(v)/2]) / 2
}

// rise is after over before minus one, in %; nil without a before.
func rise(before, after float64) *float64 {
	if before <= 0 {
		return nil
	}
	p := 100 * (after/before - 1)
	return &p
}

func printWindow(w io.Writer, n int, win keysWindow) {
	fmt.Fprintf(w, "%-5s %2d  calm %5d calls  p50 %6.3f ms  p99 %6.3f ms  max %7.3f ms  errors %d  gateway CPU %3.0f %%",
		win.Kind, n, win.Calls, win.P50us/1000, win.P99us/1000, win.MaxUs/1000, win.Errors, win.GatewayCPUms/10/win.Seconds)
	if b := win.Burst; b != nil {
		fmt.Fprintf(w, "  burst %d sent (%.0f/s): %d served, %d refused, %d errors", b.Sent, float64(b.Sent)/b.Seconds, b.Served, b.Refused, b.Errors)
	}
	fmt.Fprintln(w)
}

func printKeys(w io.Writer, r keysResult) {
	for _, k := range []struct {
		name string
		s    keysSide
	}{{"quiet", r.Quiet}, {"burst", r.Burst}} {
		fmt.Fprintf(w, "calm key, %d %s windows: %d calls, %d errors; p50 %.3f ms; p99 %.3f ms (median of the windows, which range %.3f–%.3f), %.3f ms (pooled); gateway CPU %.0f %% of a core\n",
			k.s.Windows, k.name, k.s.Calls, k.s.Errors, k.s.MedianP50us/1000, k.s.MedianP99us/1000, k.s.MinP99us/1000, k.s.MaxP99us/1000, k.s.P99us/1000, k.s.GatewayCPUPct)
	}
	fmt.Fprintf(w, "calm key's p99 during the burst: %s (median of the windows), %s (pooled)\n", percent(r.RiseMedianP99Pct), percent(r.RisePooledP99Pct))
	b := r.BurstCounts
	fmt.Fprintf(w, "burst, priority %s (%s): %d sent (%.0f/s), %d served, %d refused with 429, %d errors; gateway CPU %s µs per burst call, the burst's own %.1f µs\n",
		r.BurstLauncher, r.BurstSched, b.Sent, r.BurstSentPerSec, b.Served, b.Refused, b.Errors, optionalPtr(r.GatewayCPUPerBurstCallUs), r.BurstCPUPerCallUs)
	if b.FirstError != "" {
		fmt.Fprintln(w, "  first burst error:", b.FirstError)
	}
	if r.CalmFirstError != "" {
		fmt.Fprintln(w, "  first calm error:", r.CalmFirstError)
	}
}

func percent(p *float64) string {
	if p == nil {
		return "–"
	}
	return fmt.Sprintf("%+.1f %%", *p)
}
