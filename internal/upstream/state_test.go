package upstream

import "testing"

// TestStateMissing reads the missing-state errors of real clients, and
// leaves other errors alone.
func TestStateMissing(t *testing.T) {
	for _, tc := range []struct {
		msg  string
		want bool
	}{
		{"missing trie node 1f3a0c2e (path )", true},
		{"required historical state unavailable (reexec=128)", true},
		{"state 0x5e2f7f6a3f1c93d1b3c3f4fb1a39e3e1b0f2ad26b8b9d7a1f2b1e4c6c5e0a9d1 is not available", true},
		{"historical state not available in path scheme yet", true},
		{"No state available for block 0x1234", true},
		{"World state unavailable", true},
		{"State at block #1234 is pruned", true},
		{"your node is running with state pruning", true},
		{"execution reverted", false},
		{"header not found", false},
		{"method eth_foo is pruned from this build", false},
		{"state is available", false},
	} {
		if got := StateMissing(tc.msg); got != tc.want {
			t.Errorf("StateMissing(%q) = %v, want %v", tc.msg, got, tc.want)
		}
	}
}
