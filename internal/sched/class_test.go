package sched

import (
	"net/http"
	"strings"
	"testing"
	"time"
)

func TestClassFrom(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		headers map[string]string
		want    Class
	}{
		{"none", nil, Low},
		{"high", map[string]string{"X-High-Priority": "true"}, High},
		{"high upper case", map[string]string{"x-high-priority": "TRUE"}, High},
		{"high one", map[string]string{"X-High-Priority": "1"}, High},
		{"legacy high_prio", map[string]string{"high_prio": "true"}, High},
		{"fast-track", map[string]string{"X-Fast-Track": "True"}, FastTrack},
		{"fast-track wins", map[string]string{"X-Fast-Track": "true", "X-High-Priority": "true"}, FastTrack},
		{"fast-track false", map[string]string{"X-Fast-Track": "false", "X-High-Priority": "true"}, High},
		{"other values are false", map[string]string{"X-Fast-Track": "yes", "X-High-Priority": "0"}, Low},
		{"empty", map[string]string{"X-High-Priority": ""}, Low},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			h := http.Header{}
			for k, v := range tc.headers {
				h.Set(k, v)
			}
			if got := ClassFrom(h); got != tc.want {
				t.Fatalf("ClassFrom(%v) = %s, want %s", tc.headers, got, tc.want)
			}
		})
	}
}

func TestClassString(t *testing.T) {
	t.Parallel()
	for c, want := range map[Class]string{FastTrack: "fast_track", High: "high", Low: "low", 9: "unknown"} {
		if got := c.String(); got != want {
			t.Errorf("Class(%d).String() = %q, want %q", c, got, want)
		}
	}
}

func TestConfigValidate(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		cfg     Config
		wantErr string // substring; empty: valid
	}{
		{"zero value", Config{}, ""},
		{"all set", Config{MaxQueued: [NumClasses]int{1, 2, 3}, FastTrackPerHigh: 5, LowShare: 2, LowMaxWait: time.Second, Lookahead: 4}, ""},
		{"share and promotion off", Config{LowShare: -1, LowMaxWait: -1}, ""},
		{"negative cap", Config{MaxQueued: [NumClasses]int{0, -1, 0}}, "MaxQueued[high]"},
		{"negative ratio", Config{FastTrackPerHigh: -2}, "FastTrackPerHigh"},
		{"share of one", Config{LowShare: 1}, "LowShare = 1"},
		{"share below -1", Config{LowShare: -5}, "LowShare = -5"},
		{"negative lookahead", Config{Lookahead: -1}, "Lookahead"},
		{"huge lookahead", Config{Lookahead: MaxLookahead + 1}, "Lookahead"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			err := tc.cfg.Validate()
			switch {
			case tc.wantErr == "" && err != nil:
				t.Fatalf("Validate() = %v, want nil", err)
			case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
				t.Fatalf("Validate() = %v, want an error naming %q", err, tc.wantErr)
			}
		})
	}
}

func TestConfigDefaults(t *testing.T) {
	t.Parallel()
	got := Config{LowMaxWait: -1, LowShare: -1}.settings()
	if got.maxQueued != [NumClasses]int{DefaultMaxQueued, DefaultMaxQueued, DefaultMaxQueued} ||
		got.ftPerHigh != DefaultFastTrackPerHigh || got.lowShare != 0 || got.lowMaxWait != 0 {
		t.Fatalf("settings = %+v", got)
	}
	got = Config{}.settings()
	if got.lowShare != DefaultLowShare || got.lowMaxWait != DefaultLowMaxWait {
		t.Fatalf("settings = %+v", got)
	}
}
