package config

import (
	"strings"
	"testing"
	"time"
)

func TestRoutingKeys(t *testing.T) {
	yaml := `networks:
  - name: m
    consistent_reads:
      enabled: false
      max_clients: 500
      ttl: 2m
      write_pin: 30s
    local_nodes:
      - rpc_endpoint: http://127.0.0.1:8545
        archive: true
      - rpc_endpoint: http://127.0.0.1:8546
        archive: false
        state_window: 1024
      - rpc_endpoint: http://127.0.0.1:8547
`
	cfg, err := Parse([]byte(yaml), noEnv)
	if err != nil {
		t.Fatal(err)
	}
	n := cfg.Networks[0]
	c := n.ConsistentReads
	if c.On() || c.MaxClients != 500 || c.TTL.D() != 2*time.Minute || c.WritePin.D() != 30*time.Second {
		t.Fatalf("consistent_reads = %+v", c)
	}
	nodes := n.LocalNodes
	if !*nodes[0].Archive || *nodes[1].Archive || nodes[1].StateWindow != 1024 || nodes[2].Archive != nil {
		t.Fatalf("archive keys: %+v %+v %+v", nodes[0], nodes[1], nodes[2])
	}
	on, err := Parse([]byte("networks:\n  - name: m\n    local_nodes:\n      - rpc_endpoint: http://127.0.0.1:8545\n"), noEnv)
	if err != nil || !on.Networks[0].ConsistentReads.On() {
		t.Fatalf("consistent reads are not on by default: %v", err)
	}
}

func TestRoutingKeyErrors(t *testing.T) {
	base := "networks:\n  - name: m\n"
	node := "    local_nodes:\n      - rpc_endpoint: http://127.0.0.1:8545\n"
	tests := []struct {
		yaml string
		want []string
	}{
		{base + "    consistent_reads:\n      ttl: 10ms\n" + node, []string{"networks[0].consistent_reads.ttl", "use 1s or more"}},
		{base + "    consistent_reads:\n      write_pin: 1ms\n" + node, []string{"networks[0].consistent_reads.write_pin", "use 100ms or more"}},
		{base + "    consistent_reads:\n      max_clients: -1\n" + node, []string{"networks[0].consistent_reads.max_clients", "1 or more"}},
		{base + node + "        archive: true\n        state_window: 64\n", []string{"networks[0].local_nodes[0].state_window", "remove state_window or set archive: false"}},
		{base + node + "        methods: {deny: [\"de*bug\"]}\n", []string{"networks[0].local_nodes[0].methods.deny[0]", `"de*bug" is not a method or a prefix ending in *`}},
	}
	for _, tt := range tests {
		_, err := Parse([]byte(tt.yaml), noEnv)
		if err == nil {
			t.Errorf("%s: no error", tt.yaml)
			continue
		}
		for _, w := range tt.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%s: error %q lacks %q", tt.yaml, err, w)
			}
		}
	}
}
