package config

import (
	"maps"
	"slices"
	"strconv"
	"time"

	"github.com/evmgate/evmgate/internal/methodset"
)

// inheritTimeouts returns a network's method_timeouts: the top level's
// entries, with the network's own over them.
func inheritTimeouts(top, own map[string]Duration) map[string]Duration {
	if len(top) == 0 {
		return own
	}
	out := maps.Clone(top)
	maps.Copy(out, own)
	return out
}

// ownTimeouts returns the entries of a network's method_timeouts that the
// top level does not give it (nil when none).
func ownTimeouts(top, inherited map[string]Duration) map[string]Duration {
	var out map[string]Duration
	for k, v := range inherited {
		if tv, ok := top[k]; ok && tv == v {
			continue
		}
		if out == nil {
			out = map[string]Duration{}
		}
		out[k] = v
	}
	return out
}

// Timeouts returns network n's method_timeouts as durations (nil
// when it has none).
func (n *Network) Timeouts() map[string]time.Duration {
	if len(n.MethodTimeouts) == 0 {
		return nil
	}
	out := make(map[string]time.Duration, len(n.MethodTimeouts))
	for k, v := range n.MethodTimeouts {
		out[k] = v.D()
	}
	return out
}

// MethodTimeoutStrings returns network n's method_timeouts written as
// durations ("2m0s"); nil when it has none.
func (n *Network) MethodTimeoutStrings() map[string]string {
	if len(n.MethodTimeouts) == 0 {
		return nil
	}
	out := make(map[string]string, len(n.MethodTimeouts))
	for k, v := range n.MethodTimeouts {
		out[k] = v.D().String()
	}
	return out
}

// LongestBudget is the longest time a call may take: request_timeout, or
// a longer method_timeouts entry.
func (c *Config) LongestBudget() time.Duration {
	d := c.RequestTimeout.D()
	for _, n := range c.Networks {
		for _, v := range n.MethodTimeouts {
			d = max(d, v.D())
		}
	}
	for _, v := range c.MethodTimeouts {
		d = max(d, v.D())
	}
	return d
}

// validateMethodTimeouts checks the method_timeouts at path: each entry a
// method or a prefix ending in *, each timeout 1ms or more.
func validateMethodTimeouts(p *problems, path string, m map[string]Duration) {
	for _, k := range slices.Sorted(maps.Keys(m)) {
		if msg := methodset.PatternProblem(k); msg != "" {
			p.add(path, "%s", msg)
			continue
		}
		if d := m[k].D(); d < time.Millisecond {
			p.add(path+"."+strconv.Quote(k), "%s is too short: use 1ms or more, such as \"60s\"", d)
		}
	}
}
