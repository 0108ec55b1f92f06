package main

import (
	"bytes"
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// clockTick is Linux's USER_HZ, the unit of utime and stime in
// /proc/PID/stat: 100 per second on every architecture Go runs Linux on.
const clockTick = 10 * time.Millisecond

// procCPU returns the user plus system CPU time a process has used, all its
// threads included.
func procCPU(pid int) (time.Duration, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, fmt.Errorf("reading cpu time of pid %d: %w", pid, err)
	}
	// The command name is in parentheses and may hold spaces: fields are
	// counted from the last ')'. utime and stime are fields 14 and 15.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, fmt.Errorf("reading cpu time of pid %d: malformed stat", pid)
	}
	f := bytes.Fields(b[i+1:])
	if len(f) < 13 {
		return 0, fmt.Errorf("reading cpu time of pid %d: short stat", pid)
	}
	utime, err1 := strconv.ParseInt(string(f[11]), 10, 64)
	stime, err2 := strconv.ParseInt(string(f[12]), 10, 64)
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("reading cpu time of pid %d: malformed utime or stime", pid)
	}
	return time.Duration(utime+stime) * clockTick, nil
}

// selfCPU returns this process's user plus system CPU time.
func selfCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// procMemory returns a process's resident set size and its peak, in bytes.
func procMemory(pid int) (rss, peak int64, err error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return 0, 0, fmt.Errorf("reading memory of pid %d: %w", pid, err)
	}
	for line := range bytes.Lines(b) {
		key, val, ok := bytes.Cut(line, []byte(":"))
		if !ok {
			continue
		}
		var dst *int64
		switch string(key) {
		case "VmRSS":
			dst = &rss
		case "VmHWM":
			dst = &peak
		default:
			continue
		}
		f := bytes.Fields(val) // "12345 kB"
		if len(f) == 2 {
			kb, _ := strconv.ParseInt(string(f[0]), 10, 64)
			*dst = kb << 10
		}
	}
	return rss, peak, nil
}

// schedPolicies names the scheduling policies of /proc/PID/stat's policy
// field.
var schedPolicies = map[string]string{
	"0": "SCHED_OTHER", "1": "SCHED_FIFO", "2": "SCHED_RR", "3": "SCHED_BATCH", "5": "SCHED_IDLE", "6": "SCHED_DEADLINE",
}

// procSched describes the scheduling of every thread of a process, as
// "SCHED_IDLE nice 0, every thread", or each distinct setting with its
// thread count when they differ.
func procSched(pid int) (string, error) {
	dir := "/proc/" + strconv.Itoa(pid) + "/task"
	tasks, err := os.ReadDir(dir)
	if err != nil {
		return "", fmt.Errorf("reading threads of pid %d: %w", pid, err)
	}
	count := map[string]int{}
	var order []string
	for _, t := range tasks {
		b, err := os.ReadFile(dir + "/" + t.Name() + "/stat")
		if err != nil {
			continue // the thread ended
		}
		i := bytes.LastIndexByte(b, ')')
		if i < 0 {
			continue
		}
		// Fields are counted from 3 after the name: nice is 19, policy 41.
		f := bytes.Fields(b[i+1:])
		if len(f) < 39 {
			return "", fmt.Errorf("reading scheduling of pid %d: short stat", pid)
		}
		policy, ok := schedPolicies[string(f[38])]
		if !ok {
			policy = "policy " + string(f[38])
		}
		s := policy + " nice " + string(f[16])
		if count[s] == 0 {
			order = append(order, s)
		}
		count[s]++
	}
	switch len(order) {
	case 0:
		return "", fmt.Errorf("reading scheduling of pid %d: no thread", pid)
	case 1:
		return order[0] + ", every thread", nil
	}
	parts := make([]string, len(order))
	for i, s := range order {
		parts[i] = fmt.Sprintf("%s: %d threads", s, count[s])
	}
	return strings.Join(parts, "; "), nil
}
