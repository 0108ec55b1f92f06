package main

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// defaultStages is the staged load the Infura web server was measured
// with: users ramp linearly to each stage's target over its duration.
const defaultStages = "10s:10,30s:200,2m:500,1m:200,10s:50,10s:10"

// maxStagedDuration bounds a staged run after scaling.
const maxStagedDuration = 10 * time.Minute

// stage is one step of a staged profile: over Duration, the users ramp
// linearly from the previous stage's target (0 before the first) to
// Target.
type stage struct {
	Duration time.Duration
	Target   int
}

// parseStages reads "DURATION:USERS,…", e.g. "10s:10,30s:200".
func parseStages(s string) ([]stage, error) {
	var out []stage
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		d, u, ok := strings.Cut(part, ":")
		if !ok {
			return nil, fmt.Errorf("-stages: %q is not DURATION:USERS, e.g. 30s:200", part)
		}
		dur, err := time.ParseDuration(d)
		if err != nil || dur <= 0 {
			return nil, fmt.Errorf("-stages: %q: the duration must be above 0, e.g. 30s", part)
		}
		users, err := strconv.Atoi(u)
		if err != nil || users < 0 {
			return nil, fmt.Errorf("-stages: %q: the users must be a whole number from 0", part)
		}
		out = append(out, stage{Duration: dur, Target: users})
	}
	return out, nil
}

// scaleStages multiplies every duration by timeScale and every target by
// userScale (rounded; a target above 0 stays at least 1).
func scaleStages(in []stage, timeScale, userScale float64) []stage {
	out := make([]stage, len(in))
	for i, s := range in {
		u := int(math.Round(float64(s.Target) * userScale))
		if s.Target > 0 && u < 1 {
			u = 1
		}
		out[i] = stage{Duration: time.Duration(float64(s.Duration) * timeScale), Target: u}
	}
	return out
}

// stagedConfig is one staged run.
type stagedConfig struct {
	Label     string
	Targets   []target // users are spread over them in turn
	Workload  workload
	Stages    []stage // scaled
	TimeScale float64
	UserScale float64
	Timeout   time.Duration
}

func (c *stagedConfig) validate() error {
	if len(c.Stages) == 0 {
		return errors.New("-stages: no stage")
	}
	var total time.Duration
	for i, s := range c.Stages {
		if s.Duration <= 0 {
			return fmt.Errorf("stage %d lasts %s after scaling: raise -time-scale", i+1, s.Duration)
		}
		if s.Target > maxClients {
			return fmt.Errorf("stage %d has %d users after scaling: use at most %d (lower -user-scale)", i+1, s.Target, maxClients)
		}
		total += s.Duration
	}
	if total > maxStagedDuration {
		return fmt.Errorf("the stages last %s after scaling: use at most %s (lower -time-scale)", total, maxStagedDuration)
	}
	if c.Timeout <= 0 {
		return fmt.Errorf("-timeout %s: must be above 0", c.Timeout)
	}
	return checkTargets(c.Targets, &c.Workload)
}

// StageResult is what one stage measured: the calls that started in it.
type StageResult struct {
	Stage      int     `json:"stage"`
	Seconds    float64 `json:"seconds"`
	UsersFrom  int     `json:"users_from"`
	UsersTo    int     `json:"users_to"`
	Calls      int64   `json:"calls"`
	Errors     int64   `json:"errors"`
	RPS        float64 `json:"rps"`
	P50us      float64 `json:"p50_us"`
	P95us      float64 `json:"p95_us"`
	P99us      float64 `json:"p99_us"`
	FirstError string  `json:"first_error,omitempty"`
}

// schedule places moments of a run in its stages.
type schedule struct {
	stages []stage
	ends   []time.Duration // end of each stage since the start
}

func newSchedule(st []stage) schedule {
	s := schedule{stages: st}
	var at time.Duration
	for _, x := range st {
		at += x.Duration
		s.ends = append(s.ends, at)
	}
	return s
}

func (s schedule) total() time.Duration { return s.ends[len(s.ends)-1] }

// stageAt is the stage running at elapsed, or -1 after the last.
func (s schedule) stageAt(elapsed time.Duration) int {
	for i, end := range s.ends {
		if elapsed < end {
			return i
		}
	}
	return -1
}

// usersAt is how many users run at elapsed: the linear ramp of its stage.
func (s schedule) usersAt(elapsed time.Duration) int {
	i := s.stageAt(elapsed)
	if i < 0 {
		return 0
	}
	from := 0
	if i > 0 {
		from = s.stages[i-1].Target
	}
	start := s.ends[i] - s.stages[i].Duration
	frac := float64(elapsed-start) / float64(s.stages[i].Duration)
	return int(math.Round(float64(from) + float64(s.stages[i].Target-from)*frac))
}

// user is one closed-loop client of a staged run. Its stats are its own
// until the run has waited for it.
type user struct {
	c     caller
	stop  atomic.Bool
	stats []clientStats // by stage
}

// rampTick is how often the number of users follows the ramp.
const rampTick = 50 * time.Millisecond

// runStaged runs the stages: every rampTick the users are brought to the
// ramp's count, new ones starting and the newest stopping after their call.
func runStaged(cfg stagedConfig) (Result, error) {
	if err := cfg.validate(); err != nil {
		return Result{}, err
	}
	sch := newSchedule(cfg.Stages)
	var wg sync.WaitGroup
	var active, all []*user
	start := time.Now()
	tick := time.NewTicker(rampTick)
	defer tick.Stop()
	for elapsed := time.Duration(0); elapsed < sch.total(); elapsed = time.Since(start) {
		want := sch.usersAt(elapsed)
		for len(active) < want {
			u := &user{c: newCaller(cfg.Targets[len(all)%len(cfg.Targets)], &cfg.Workload, cfg.Timeout),
				stats: make([]clientStats, len(cfg.Stages))}
			active, all = append(active, u), append(all, u)
			wg.Add(1)
			go func() { defer wg.Done(); u.run(&cfg.Workload, sch, start) }()
		}
		for len(active) > want {
			active[len(active)-1].stop.Store(true)
			active = active[:len(active)-1]
		}
		<-tick.C
	}
	for _, u := range active {
		u.stop.Store(true)
	}
	wg.Wait()
	return summariseStaged(cfg, sch, all), nil
}

// run is one user's loop: each call counts in the stage it started in.
func (u *user) run(w *workload, sch schedule, start time.Time) {
	defer u.c.close()
	for !u.stop.Load() {
		t0 := time.Now()
		i := sch.stageAt(t0.Sub(start))
		if i < 0 {
			return
		}
		err := u.c.roundTrip()
		if err == nil {
			err = w.check(u.c.answer())
		}
		st := &u.stats[i]
		st.latencies = append(st.latencies, time.Since(t0))
		st.total++
		if err != nil {
			st.errors++
			if st.firstErr == nil {
				st.firstErr = err
			}
			// A failing target answers fast: do not spin on it.
			time.Sleep(10 * time.Millisecond)
		}
	}
}

func summariseStaged(cfg stagedConfig, sch schedule, users []*user) Result {
	r := Result{Label: cfg.Label, Workload: cfg.Workload.Name, Profile: "staged", TimeScale: cfg.TimeScale, UserScale: cfg.UserScale}
	var every []time.Duration
	for i, s := range cfg.Stages {
		sr := StageResult{Stage: i + 1, Seconds: s.Duration.Seconds(), UsersTo: s.Target}
		if i > 0 {
			sr.UsersFrom = cfg.Stages[i-1].Target
		}
		var lat []time.Duration
		for _, u := range users {
			st := &u.stats[i]
			lat = append(lat, st.latencies...)
			sr.Errors += st.errors
			if st.firstErr != nil && sr.FirstError == "" {
				sr.FirstError = st.firstErr.Error()
			}
		}
		sr.Calls = int64(len(lat))
		slices.Sort(lat)
		sr.RPS = float64(sr.Calls) / sr.Seconds
		sr.P50us, sr.P95us, sr.P99us = micros(percentile(lat, 0.50)), micros(percentile(lat, 0.95)), micros(percentile(lat, 0.99))
		r.Stages = append(r.Stages, sr)
		r.Clients = max(r.Clients, s.Target)
		r.Requests += sr.Calls
		r.Errors += sr.Errors
		if r.FirstError == "" {
			r.FirstError = sr.FirstError
		}
		every = append(every, lat...)
	}
	r.Seconds = sch.total().Seconds()
	r.TotalRequests = r.Requests
	r.RPS = float64(r.Requests) / r.Seconds
	slices.Sort(every)
	r.P50us, r.P99us = micros(percentile(every, 0.50)), micros(percentile(every, 0.99))
	return r
}
