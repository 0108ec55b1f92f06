package sched

import (
	"strings"
	"testing"
)

func TestParseWorkers(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name        string
		in          string
		wantURL     string
		wantWorkers int
		wantErr     string
	}{
		{"no query", "http://10.0.0.1:8545", "http://10.0.0.1:8545", 0, ""},
		{"only workers", "http://node:8545?_workers=16", "http://node:8545", 16, ""},
		{"workers first", "http://node:8545/rpc?_workers=4&key=abc&b=2", "http://node:8545/rpc?key=abc&b=2", 4, ""},
		{"workers middle", "https://node/rpc?a=1&_workers=3&b=%2F", "https://node/rpc?a=1&b=%2F", 3, ""},
		{"workers last with fragment", "http://node/?a=1&_workers=2#frag", "http://node/?a=1#frag", 2, ""},
		{"escaped key", "http://node/?%5Fworkers=5&z=1", "http://node/?z=1", 5, ""},
		{"other query untouched", "http://u:p@node/p?x=1&&y", "http://u:p@node/p?x=1&&y", 0, ""},
		{"similar name kept", "http://node/?_workers_x=3", "http://node/?_workers_x=3", 0, ""},
		{"zero", "http://node/?_workers=0", "", 0, "_workers"},
		{"negative", "http://node/?_workers=-2", "", 0, "_workers"},
		{"not a number", "http://node/?_workers=many", "", 0, "whole number"},
		{"empty value", "http://node/?_workers=", "", 0, "_workers"},
		{"no value", "http://node/?_workers", "", 0, "_workers"},
		{"twice", "http://node/?_workers=1&_workers=2", "", 0, "twice"},
		{"bad url", "http://node:port:x/?_workers=1", "", 0, "the node URL does not parse"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			gotURL, gotWorkers, err := ParseWorkers(tc.in)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("ParseWorkers(%q) error = %v, want one containing %q", tc.in, err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseWorkers(%q) = %v", tc.in, err)
			}
			if gotURL != tc.wantURL || gotWorkers != tc.wantWorkers {
				t.Fatalf("ParseWorkers(%q) = %q, %d; want %q, %d", tc.in, gotURL, gotWorkers, tc.wantURL, tc.wantWorkers)
			}
		})
	}
}

// A URL that does not parse is not quoted back: it may hold an API key.
func TestParseWorkersKeepsTheURLOutOfErrors(t *testing.T) {
	const key = "0123456789abcdef0123456789abcdef"
	_, _, err := ParseWorkers("https://eth.example/v2/" + key + "/%zz?_workers=2")
	if err == nil || strings.Contains(err.Error(), key) || !strings.Contains(err.Error(), "does not parse") {
		t.Fatalf("error %v", err)
	}
}
