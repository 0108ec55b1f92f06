package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os/exec"
	"sync"
	"time"
)

// burstCounts is what a burst sent and how it was answered.
type burstCounts struct {
	Sent    int64 `json:"sent"`
	Served  int64 `json:"served"`  // 200
	Refused int64 `json:"refused"` // 429
	// Errors are every other answer and every failed call.
	Errors     int64   `json:"errors"`
	Seconds    float64 `json:"seconds"`
	CPUus      float64 `json:"cpu_us"` // the burst process's own CPU time
	FirstError string  `json:"first_error,omitempty"`
}

func (b *burstCounts) add(o burstCounts) {
	b.Sent += o.Sent
	b.Served += o.Served
	b.Refused += o.Refused
	b.Errors += o.Errors
	b.Seconds += o.Seconds
	b.CPUus += o.CPUus
	if b.FirstError == "" {
		b.FirstError = o.FirstError
	}
}

// burstReady is the line a burst prints once its first call is answered.
const burstReady = "sending"

// burst posts eth_blockNumber to one URL at a paced rate from a few
// senders, one keep-alive connection each, until it is stopped (SIGTERM)
// or -for has passed; then it prints its counts as one JSON line. It is
// the `keys` scenario's bursting client, run as a process of its own.
func burst(ctx context.Context, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("burst", flag.ContinueOnError)
	raw := fs.String("url", "", "http://127.0.0.1:PORT/PATH to post to")
	rate := fs.Float64("rate", 1000, "calls per second, all senders together")
	senders := fs.Int("senders", 2, "senders, one connection each")
	limit := fs.Duration("for", time.Minute, "stop after this long at the latest")
	if err := fs.Parse(args); err != nil {
		return err
	}
	t, err := parseTarget(*raw)
	if err != nil {
		return err
	}
	switch {
	case t.ws:
		return fmt.Errorf("-url %q: use an http:// URL", *raw)
	case *rate <= 0 || *rate > 20_000:
		return fmt.Errorf("-rate %g: use above 0 and up to 20000 calls/s", *rate)
	case *senders < 1 || *senders > 64:
		return fmt.Errorf("-senders %d: use 1 to 64", *senders)
	case *limit <= 0 || *limit > 10*time.Minute:
		return fmt.Errorf("-for %s: use above 0 and up to 10m", *limit)
	}
	ctx, cancel := context.WithTimeout(ctx, *limit)
	defer cancel()
	w := mustWorkload("blockNumber")
	start := time.Now()
	cpu0 := selfCPU()
	first := newConn(t, "", w.Body, 5*time.Second)
	var total burstCounts
	total.count(first.roundTrip())
	fmt.Fprintln(stdout, burstReady)
	interval := time.Duration(float64(*senders) * float64(time.Second) / *rate)
	var mu sync.Mutex
	var wg sync.WaitGroup
	for i := range *senders {
		c := first
		if i > 0 {
			c = newConn(t, "", w.Body, 5*time.Second)
		}
		wg.Go(func() {
			got := paced(ctx, c, start.Add(time.Duration(i)*interval/time.Duration(*senders)), interval)
			mu.Lock()
			total.add(got)
			mu.Unlock()
		})
	}
	wg.Wait()
	total.Seconds = time.Since(start).Seconds()
	total.CPUus = micros(selfCPU() - cpu0)
	b, err := json.Marshal(total)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintln(stdout, string(b))
	return err
}

// count files one call's outcome.
func (b *burstCounts) count(err error) {
	b.Sent++
	var st *errStatus
	switch {
	case err == nil:
		b.Served++
	case errors.As(err, &st) && st.code == http.StatusTooManyRequests:
		b.Refused++
	default:
		b.Errors++
		if b.FirstError == "" {
			b.FirstError = err.Error()
		}
	}
}

// paced calls c once per interval from start until ctx ends. A sender that
// falls behind by more than one interval skips the calls it missed rather
// than catching up in a rush.
func paced(ctx context.Context, c *conn, start time.Time, interval time.Duration) burstCounts {
	defer c.close()
	var got burstCounts
	t := time.NewTimer(time.Until(start))
	defer t.Stop()
	next := start
	for {
		select {
		case <-ctx.Done():
			return got
		case <-t.C:
		}
		got.count(c.roundTrip())
		next = next.Add(interval)
		if now := time.Now(); now.Sub(next) > interval {
			next = now
		}
		t.Reset(time.Until(next))
	}
}

// burstLauncher is how the burst process is started for a priority: the
// program that execs it (nil: none) and a description.
func burstLauncher(priority string) (prefix []string, how string, err error) {
	nice := []string{"nice", "-n", "19"}
	switch priority {
	case "idle":
		// SCHED_IDLE is set before exec, so every thread the Go runtime
		// starts later inherits it.
		path, err := exec.LookPath("chrt")
		how = "chrt not found"
		if err == nil {
			out, err := exec.Command(path, "--idle", "0", "true").CombinedOutput()
			if err == nil {
				return []string{path, "--idle", "0"}, "idle (chrt --idle 0)", nil
			}
			how = fmt.Sprintf("chrt --idle 0 failed (%v: %.80s)", err, out)
		}
		if _, err := exec.LookPath("nice"); err != nil {
			return nil, "", errors.New("-burst-priority idle: neither chrt nor nice found (util-linux, coreutils)")
		}
		return nice, "nice -n 19, as " + how, nil
	case "nice":
		if _, err := exec.LookPath("nice"); err != nil {
			return nil, "", errors.New("-burst-priority nice: nice not found (coreutils)")
		}
		return nice, "nice -n 19", nil
	case "normal":
		return nil, "normal", nil
	}
	return nil, "", fmt.Errorf("-burst-priority %q: use idle, nice or normal", priority)
}
