package engine

import "testing"

func TestSynced(t *testing.T) {
	for _, c := range []struct {
		result string
		want   bool
	}{
		{"false", true},
		{" false\n", true},
		{"true", false},
		{`{"currentBlock":"0x0","highestBlock":"0x0","txIndexRemainingBlocks":"0x1"}`, true},
		{`{"currentBlock":"0x10","highestBlock":"0xf"}`, true},
		{`{"currentBlock":"0x5","highestBlock":"0x10"}`, false},
		{`{"startingBlock":"0x0"}`, false},
		{`{"currentBlock":"zz","highestBlock":"0x1"}`, false},
		{`"syncing"`, false},
	} {
		if got := synced([]byte(c.result)); got != c.want {
			t.Errorf("synced(%s) = %v, want %v", c.result, got, c.want)
		}
	}
}
