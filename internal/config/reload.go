package config

import (
	"reflect"
	"strings"
)

// Reloadable splits a reload into what can change now and what needs a
// restart. It returns a copy of next in which every setting that only a
// restart can change has old's value, and the key paths of those settings
// that next changes (sorted as they appear in the file's schema).
//
// A restart is needed for the listeners (port, listen_addr, metrics_port,
// metrics_addr), their tls and limits sections (the files named in tls
// sections are read again when they change on disk), log_format, the whole admin section and redis_url (the
// admin listener and the node store), the engine section (the Engine API
// multiplexer and its listener), the websocket section (the limits of
// connections already open), the cache section (the store's size), the
// attestation section (the verifier of attested nodes) and the tracing
// section (the span exporter). The networks also stay as they are when the
// reload would turn an Engine-API-only gateway into an RPC one or back,
// since that starts or stops the JSON-RPC listener. Everything else —
// networks, nodes, tiers, weights, limits, strategies, scheduler, timeouts,
// log level, shutdown_delay and shutdown_grace — changes on reload.
func Reloadable(old, next *Config) (*Config, []string) {
	out := *next
	var keys []string
	keep := func(key string, changed bool, restore func()) {
		if changed {
			keys = append(keys, key)
			restore()
		}
	}
	keep("port", old.Port != next.Port, func() { out.Port = old.Port })
	keep("listen_addr", old.ListenAddr != next.ListenAddr, func() { out.ListenAddr = old.ListenAddr })
	keep("metrics_port", old.MetricsPort != next.MetricsPort, func() { out.MetricsPort = old.MetricsPort })
	// Unless written, metrics_addr follows listen_addr: when neither file
	// writes it, a change is listen_addr's, named once as that.
	keep("metrics_addr", old.MetricsAddr != next.MetricsAddr && !(old.metricsAddrDefault && next.metricsAddrDefault), func() {})
	out.MetricsAddr, out.metricsAddrDefault = old.MetricsAddr, old.metricsAddrDefault
	keep("log_format", old.LogFormat != next.LogFormat, func() { out.LogFormat = old.LogFormat })
	keep("redis_url", old.RedisURL != next.RedisURL, func() { out.RedisURL = old.RedisURL })
	nextAdmin := next.Admin
	if nextAdmin.RedisURL == next.RedisURL && old.Admin.RedisURL == old.RedisURL {
		nextAdmin.RedisURL = old.Admin.RedisURL // redis_url's copy: named once, as redis_url
	}
	keys = restartOnly(keys, "admin.", old.Admin, nextAdmin, &out.Admin)
	if next.Admin.RedisURL == next.RedisURL && old.Admin.RedisURL == old.RedisURL {
		out.Admin.RedisURL = old.Admin.RedisURL // redis_url's copy stays with redis_url
	}
	keys = restartOnly(keys, "engine.", old.Engine, next.Engine, &out.Engine)
	keys = restartOnly(keys, "websocket.", old.WebSocket, next.WebSocket, &out.WebSocket)
	keys = restartOnly(keys, "cache.", old.Cache, next.Cache, &out.Cache)
	keys = restartOnly(keys, "tls.", old.TLS, next.TLS, &out.TLS)
	keys = restartOnly(keys, "limits.", old.Limits, next.Limits, &out.Limits)
	keys = restartOnly(keys, "attestation.", old.Attestation, next.Attestation, &out.Attestation)
	keys = restartOnly(keys, "tracing.", old.Tracing, next.Tracing, &out.Tracing)
	keep("access.shared_limits", old.Access.SharedLimits != next.Access.SharedLimits,
		func() { out.Access.SharedLimits = old.Access.SharedLimits })
	keep("access.redis_fail_mode", old.Access.RedisFailMode != next.Access.RedisFailMode,
		func() { out.Access.RedisFailMode = old.Access.RedisFailMode })
	if (len(old.Networks) == 0) != (len(next.Networks) == 0) {
		keys = append(keys, "networks")
		out.Networks = old.Networks
	}
	return &out, keys
}

// restartOnly keeps a section that only a restart can change: when next
// differs from old, *dst gets old back and the changed keys are added to keys.
func restartOnly[T any](keys []string, prefix string, old, next T, dst *T) []string {
	k := changedKeys(prefix, old, next)
	if len(k) > 0 {
		*dst = old
	}
	return append(keys, k...)
}

// changedKeys names the fields of two values of one struct type that
// differ, each as prefix + its YAML key. A difference in a field without a
// key names the prefix alone.
func changedKeys(prefix string, a, b any) []string {
	va, vb := reflect.ValueOf(a), reflect.ValueOf(b)
	var out []string
	for i, key := range keyedFields(va.Type()) {
		if !reflect.DeepEqual(va.Field(i).Interface(), vb.Field(i).Interface()) {
			out = append(out, prefix+key)
		}
	}
	if len(out) == 0 && !reflect.DeepEqual(a, b) {
		out = append(out, strings.TrimSuffix(prefix, "."))
	}
	return out
}

// keyedFields yields the index and YAML key of each field of struct type t
// that a file can write.
func keyedFields(t reflect.Type) func(yield func(int, string) bool) {
	return func(yield func(int, string) bool) {
		for i := range t.NumField() {
			f := t.Field(i)
			key, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
			if !f.IsExported() || key == "" || key == "-" {
				continue
			}
			if !yield(i, key) {
				return
			}
		}
	}
}

// Changed names the settings whose values differ from old to next, for the
// log of a reload: a top-level key (log_level, request_timeout), a
// section's keys (access.keys, scheduler.max_queued_low,
// response_compression.min_bytes), a network added or removed
// (networks.<name>) and a kept network's keys (networks.<name>.local_nodes,
// networks.<name>.hedge). Names only, never values, which may be secrets.
func Changed(old, next *Config) []string {
	va, vb := reflect.ValueOf(*old), reflect.ValueOf(*next)
	t := va.Type()
	var out []string
	for i, key := range keyedFields(t) {
		a, b := va.Field(i).Interface(), vb.Field(i).Interface()
		switch {
		case key == "networks":
			out = append(out, changedNetworks(written(old), written(next))...)
		case t.Field(i).Type.Kind() == reflect.Struct:
			out = append(out, changedKeys(key+".", a, b)...)
		case !reflect.DeepEqual(a, b):
			out = append(out, key)
		}
	}
	return out
}

// changedNetworks names the networks added or removed and the changed keys
// of those kept; "networks" alone when only their order changed.
func changedNetworks(old, next []Network) []string {
	before := map[string]Network{}
	for _, n := range old {
		before[n.Name] = n
	}
	var out []string
	for _, n := range next {
		o, kept := before[n.Name]
		delete(before, n.Name)
		if !kept {
			out = append(out, "networks."+n.Name)
			continue
		}
		out = append(out, changedKeys("networks."+n.Name+".", o, n)...)
	}
	for _, n := range old {
		if _, removed := before[n.Name]; removed {
			out = append(out, "networks."+n.Name)
		}
	}
	if len(out) == 0 && !reflect.DeepEqual(old, next) {
		out = append(out, "networks")
	}
	return out
}

// written returns c's networks without the values they inherit from the
// top level (strategy, max_concurrency) and their nodes without the
// network's max_concurrency: a change of the top-level key is named once,
// as itself. The networks and nodes are copies.
func written(c *Config) []Network {
	out := make([]Network, len(c.Networks))
	for i, n := range c.Networks {
		if n.Strategy == c.Strategy {
			n.Strategy = ""
		}
		for _, tier := range []*[]Node{&n.LocalNodes, &n.MonitoringNodes, &n.FallbackNodes} {
			nodes := make([]Node, len(*tier))
			for j, nd := range *tier {
				if nd.MaxConcurrency == n.MaxConcurrency {
					nd.MaxConcurrency = 0
				}
				nodes[j] = nd
			}
			*tier = nodes
		}
		if n.MaxConcurrency == c.MaxConcurrency {
			n.MaxConcurrency = 0
		}
		n.MethodTimeouts = ownTimeouts(c.MethodTimeouts, n.MethodTimeouts)
		out[i] = n
	}
	return out
}
