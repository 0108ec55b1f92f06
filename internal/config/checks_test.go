package config

import (
	"strings"
	"testing"
)

const oneNode = "networks:\n  - name: mainnet\n    local_nodes:\n      - rpc_endpoint: http://127.0.0.1:8545\n"

// TestWorkersInNodeURL: prio-load-balancer's ?_workers=N is read as the
// gateway reads it, and a bad one is reported under the node's key.
func TestWorkersInNodeURL(t *testing.T) {
	for _, tt := range []struct{ query, want string }{
		{"?_workers=abc", `networks[0].local_nodes[0].rpc_endpoint: _workers="abc" is not a number of workers: write a whole number of 1 or more, e.g. ?_workers=8`},
		{"?_workers=-5", `networks[0].local_nodes[0].rpc_endpoint: _workers="-5" is not a number of workers`},
		{"?_workers=0", `networks[0].local_nodes[0].rpc_endpoint: _workers="0" is not a number of workers`},
		{"?_workers=2&_workers=3", `networks[0].local_nodes[0].rpc_endpoint: _workers is given twice: keep one`},
	} {
		_, err := Parse([]byte(strings.Replace(oneNode, "8545", "8545"+tt.query, 1)), noEnv)
		if err == nil || !strings.Contains(err.Error(), tt.want) || strings.Contains(err.Error(), "sched:") {
			t.Errorf("%s: got %v, want %q", tt.query, err, tt.want)
		}
	}
	cfg, err := Parse([]byte(strings.Replace(oneNode, "8545", "8545/rpc?key=k&_workers=8", 1)), noEnv)
	if err != nil || cfg.Networks[0].LocalNodes[0].RPCEndpoint != "http://127.0.0.1:8545/rpc?key=k&_workers=8" {
		t.Fatalf("a good _workers: %v", err)
	}
	bad := Node{RPCEndpoint: "http://10.0.0.5:8545?_workers=many"}
	if err := bad.Check(); err == nil || !strings.Contains(err.Error(), `node.rpc_endpoint: _workers="many"`) {
		t.Errorf("a node added at run time: %v", err)
	}
}
