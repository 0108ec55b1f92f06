//go:build !nodemo

package main

import (
	"context"
	"encoding/json"
	"path/filepath"
	"testing"
	"time"

	"github.com/evmgate/evmgate/internal/devnet"
)

// Filters, as the README documents them, in the binary in front of two
// real go-ethereum nodes taken in turn (round_robin): a block filter made
// through the gateway is polled there six times, each poll answered by the
// node that holds the filter (another would say "filter not found"), and it
// sees the blocks mined meanwhile; it is uninstalled there too.
func TestFiltersAsProcessDevnet(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
	defer cancel()
	net, err := devnet.Start(ctx, devnet.Config{Nodes: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer net.Close()
	nodes := net.Nodes()
	if _, err := net.Mine(ctx); err != nil { // past genesis, where go-ethereum says it syncs
		t.Fatal(err)
	}
	rpcPort, metricsPort := freePort(t), freePort(t)
	cfg := filepath.Join(t.TempDir(), "evmgate.yaml")
	writeFile(t, cfg, listeners(rpcPort, metricsPort)+"strategy: round_robin\nnetworks:\n  - name: devnet\n    chain_id: 1337\n"+
		"    local_poll_interval: 100ms\n    local_nodes:\n"+
		"      - rpc_endpoint: "+nodes[0].HTTPURL()+"\n        name: a\n"+
		"      - rpc_endpoint: "+nodes[1].HTTPURL()+"\n        name: b\n")
	p := startProc(t, nil, "-config", cfg)
	p.waitOutput(p.stderr, "gateway started", 2*time.Minute)
	url := "http://" + addr(rpcPort) + "/devnet"
	eventually(t, time.Minute, "both nodes eligible", func() bool {
		st := statusOf(t, "http://"+addr(metricsPort))["devnet"]
		return len(st.Nodes) == 2 && st.Nodes[0].Eligible && st.Nodes[1].Eligible
	})

	var id string
	if err := json.Unmarshal(clientCall(t, url, "", `{"jsonrpc":"2.0","id":1,"method":"eth_newBlockFilter","params":[]}`), &id); err != nil || id == "" {
		t.Fatalf("eth_newBlockFilter: %q %v", id, err)
	}
	seen := 0
	for i := range 6 {
		if _, err := net.Mine(ctx); err != nil {
			t.Fatal(err)
		}
		head := net.Head()
		eventually(t, time.Minute, "both nodes eligible at the new head", func() bool {
			st := statusOf(t, "http://"+addr(metricsPort))["devnet"]
			return st.Head == head && len(st.Nodes) == 2 && st.Nodes[0].Eligible && st.Nodes[1].Eligible
		})
		var hashes []string // clientCall fails the test on "filter not found"
		if err := json.Unmarshal(clientCall(t, url, "", `{"jsonrpc":"2.0","id":2,"method":"eth_getFilterChanges","params":["`+id+`"]}`), &hashes); err != nil {
			t.Fatalf("poll %d: %v", i, err)
		}
		seen += len(hashes)
	}
	if seen == 0 {
		t.Fatal("the block filter saw none of the six blocks mined")
	}
	var ok bool
	if err := json.Unmarshal(clientCall(t, url, "", `{"jsonrpc":"2.0","id":3,"method":"eth_uninstallFilter","params":["`+id+`"]}`), &ok); err != nil || !ok {
		t.Fatalf("eth_uninstallFilter: %v %v", ok, err)
	}
}
