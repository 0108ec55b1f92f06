package config

import (
	"slices"
	"strings"
	"testing"
	"time"
)

const timeoutsBase = `
method_timeouts:
  "debug_*": 2m
  eth_getLogs: 20s
networks:
  - name: mainnet
    method_timeouts: {eth_getLogs: 40s}
    local_nodes:
      - rpc_endpoint: http://10.0.0.1:8545
  - name: sepolia
    local_nodes:
      - rpc_endpoint: http://10.0.0.2:8545
`

// A network has the top level's method_timeouts with its own entries over
// them; the longest budget counts every entry.
func TestMethodTimeoutsInherited(t *testing.T) {
	c := mustParse(t, timeoutsBase)
	main, sep := c.Networks[0].Timeouts(), c.Networks[1].Timeouts()
	if main["debug_*"] != 2*time.Minute || main["eth_getLogs"] != 40*time.Second || len(main) != 2 {
		t.Errorf("mainnet: %v", main)
	}
	if sep["debug_*"] != 2*time.Minute || sep["eth_getLogs"] != 20*time.Second || len(sep) != 2 {
		t.Errorf("sepolia: %v", sep)
	}
	if got := c.LongestBudget(); got != 2*time.Minute {
		t.Errorf("LongestBudget = %s, want 2m", got)
	}
	if got := mustParse(t, "networks:\n  - name: a\n    local_nodes: [{rpc_endpoint: http://10.0.0.1:8545}]\n").LongestBudget(); got != 30*time.Second {
		t.Errorf("LongestBudget without entries = %s, want request_timeout", got)
	}
}

// A reload that changes the top level's method_timeouts names that key
// once, not every network that inherits it; a network's own change names
// the network's key.
func TestMethodTimeoutsChanged(t *testing.T) {
	old := mustParse(t, timeoutsBase)
	top := mustParse(t, strings.Replace(timeoutsBase, `"debug_*": 2m`, `"debug_*": 3m`, 1))
	if got := Changed(old, top); !slices.Equal(got, []string{"method_timeouts"}) {
		t.Errorf("top-level change: %v", got)
	}
	own := mustParse(t, strings.Replace(timeoutsBase, `{eth_getLogs: 40s}`, `{eth_getLogs: 50s}`, 1))
	if got := Changed(old, own); !slices.Equal(got, []string{"networks.mainnet.method_timeouts"}) {
		t.Errorf("network change: %v", got)
	}
}

// A bad top-level entry is reported once, at its own key, not again for
// every network that inherits it.
func TestMethodTimeoutsValidatedOnce(t *testing.T) {
	_, err := Parse([]byte(strings.Replace(timeoutsBase, `"debug_*": 2m`, `"debug_*": 0s`, 1)), noEnv)
	if err == nil {
		t.Fatal("a 0s entry was accepted")
	}
	if n := strings.Count(err.Error(), `"debug_*"`); n != 1 || !strings.Contains(err.Error(), `method_timeouts."debug_*": 0s is too short`) {
		t.Errorf("%d mentions of the entry:\n%v", n, err)
	}
	_, err = Parse([]byte(strings.Replace(timeoutsBase, `{eth_getLogs: 40s}`, `{"eth_get*Logs": 40s}`, 1)), noEnv)
	if err == nil || !strings.Contains(err.Error(), `networks[0].method_timeouts: "eth_get*Logs" is not a method or a prefix ending in *`) {
		t.Errorf("a * inside an entry: %v", err)
	}
}
