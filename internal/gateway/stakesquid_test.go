package gateway_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
)

// Both example configurations of StakeSquid's README load unchanged and
// serve (their hosts are replaced by local fake nodes).
func TestStakeSquidExamplesServe(t *testing.T) {
	exporter := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprint(w, "# HELP node_load1 1m load average.\nnode_load1 0.42\nnode_load5 0.3\nnode_load15 0.2\n")
	}))
	defer exporter.Close()
	for _, file := range []string{"stakesquid-example.yaml", "stakesquid-minimal.yaml"} {
		t.Run(file, func(t *testing.T) {
			raw, err := os.ReadFile("../config/testdata/" + file)
			if err != nil {
				t.Fatal(err)
			}
			text := string(raw)
			hosts := []string{"mainnet-1:8545", "mainnet-2:8545", "mainnet-3:8545", "monitoring-node-1:9545",
				"fallback-node-1:9656", "fallback-node-2:9657", "localhost:8548", "localhost:9656"}
			f := fakes(t, len(hosts))
			for i, h := range hosts {
				text = strings.ReplaceAll(text, "http://"+h, f[i].URL())
			}
			for _, h := range []string{"mainnet-1:9100", "mainnet-2:9100", "mainnet-3:9100"} {
				text = strings.ReplaceAll(text, "http://"+h, exporter.URL)
			}
			g := startGateway(t, text)
			for _, net := range g.Status().Networks {
				r := post(t, g.RPCURL()+"/"+net.Name, blockNumber)
				if r.status != 200 || r.body != `{"jsonrpc":"2.0","id":7,"result":"0x64"}` {
					t.Fatalf("%s: %d %s", net.Name, r.status, r.body)
				}
			}
			if file == "stakesquid-example.yaml" {
				waitFor(t, "host load read from the node exporter", func() bool {
					for _, n := range g.Status().Networks[0].Nodes {
						if n.Tier == "local" && n.Load != 0.42 {
							return false
						}
					}
					return true
				})
			}
		})
	}
}
