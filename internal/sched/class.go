package sched

import (
	"strings"
)

// Class is the priority class of a call. Lower values are served first.
type Class uint8

// The three priority classes.
const (
	// FastTrack calls overtake high calls N:1 (Config.FastTrackPerHigh).
	FastTrack Class = iota
	// High calls are all served before any low call, except for the low
	// share and the promotion of old low calls.
	High
	// Low is the default class: bulk traffic that absorbs the waiting.
	Low
)

// NumClasses is the number of priority classes; arrays indexed by Class
// have this length.
const NumClasses = 3

// Request headers that select the class, as sent to flashbots'
// prio-load-balancer (mev-boost-relay uses them).
const (
	HeaderFastTrack    = "X-Fast-Track"
	HeaderHighPriority = "X-High-Priority"
	// headerLegacyHighPriority is the older spelling prio-load-balancer
	// still accepts; http.Header stores it in this canonical form.
	headerLegacyHighPriority = "High_prio"
)

// String returns the name used in logs and metric labels.
func (c Class) String() string {
	switch c {
	case FastTrack:
		return "fast_track"
	case High:
		return "high"
	case Low:
		return "low"
	default:
		return "unknown"
	}
}

// ClassFrom returns the class a request asks for, from any reader of its
// headers (net/http's or fasthttp's): FastTrack when X-Fast-Track is "true"
// or "1" (case-insensitive), else High when X-High-Priority (or the legacy
// high_prio) is, else Low. Fast-track wins when both are set.
func ClassFrom[H interface{ Get(key string) string }](h H) Class {
	if headerTrue(h.Get(HeaderFastTrack)) {
		return FastTrack
	}
	if headerTrue(h.Get(HeaderHighPriority)) || headerTrue(h.Get(headerLegacyHighPriority)) {
		return High
	}
	return Low
}

func headerTrue(v string) bool {
	v = strings.TrimSpace(v)
	return v == "1" || strings.EqualFold(v, "true")
}
