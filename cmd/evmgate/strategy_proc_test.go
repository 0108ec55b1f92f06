package main

import (
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// The strategy key on a running process, one network per strategy over
// the same two nodes: round_robin alternates, least_conn passes over the
// node busy with a call, best keeps to the first node (by
// load_balance_priority, here the file's order).
func TestStrategiesAsProcess(t *testing.T) {
	f := fakeNodes(t, 2, 1)
	rpcPort, metricsPort := freePort(t), freePort(t)
	nets := "cache:\n  enabled: false\nnetworks:\n"
	for _, s := range []string{"round_robin", "least_conn", "best"} {
		nets += "  - name: " + s + "\n    chain_id: 1\n    strategy: " + s + "\n" + fakeNodesYAML("local_nodes", "", f[0], f[1])
		if s == "best" { // the order of the file: heads are equal
			nets += "    load_balance_priority: [chainhead]\n"
		}
	}
	cfg := filepath.Join(t.TempDir(), "evmgate.yaml")
	writeFile(t, cfg, listeners(rpcPort, metricsPort)+nets)
	p := startProc(t, nil, "-config", cfg)
	p.waitOutput(p.stderr, "gateway started", 2*time.Minute)
	answeredBy := func(network string) string {
		code, body := rpc(t, "http://"+addr(rpcPort)+"/"+network, clientVersion)
		if code != 200 {
			t.Fatalf("%s: %d %s", network, code, body)
		}
		for _, n := range f {
			if strings.Contains(body, `"result":"`+n.Name+`"`) {
				return n.Name
			}
		}
		t.Fatalf("%s: an answer from no node: %s", network, body)
		return ""
	}

	t.Run("round_robin", func(t *testing.T) {
		prev := answeredBy("round_robin")
		for range 6 {
			by := answeredBy("round_robin")
			if by == prev {
				t.Fatalf("round_robin sent two calls in a row to %s", by)
			}
			prev = by
		}
	})
	t.Run("best", func(t *testing.T) {
		for range 6 {
			if by := answeredBy("best"); by != f[0].Name {
				t.Fatalf("best sent a call to %s, not the first node", by)
			}
		}
	})
	t.Run("least_conn", func(t *testing.T) {
		for _, n := range f {
			n.Record("eth_call")
			n.Hold("eth_call")
		}
		held := make(chan struct{})
		go func() {
			defer close(held)
			resp, err := http.Post("http://"+addr(rpcPort)+"/least_conn", "application/json",
				strings.NewReader(`{"jsonrpc":"2.0","id":"held","method":"eth_call","params":[{"to":"0x0000000000000000000000000000000000000001"},"latest"]}`))
			if err == nil {
				resp.Body.Close()
			}
		}()
		var busy string
		eventually(t, time.Minute, "the held call to reach a node", func() bool {
			for _, n := range f {
				if len(n.Arrivals("eth_call")) > 0 {
					busy = n.Name
					return true
				}
			}
			return false
		})
		for range 6 {
			if by := answeredBy("least_conn"); by == busy {
				t.Fatalf("least_conn sent a call to %s, busy with one, while the other was free", by)
			}
		}
		for _, n := range f {
			n.Release("eth_call")
		}
		<-held
	})
	if code, _ := p.terminate(30 * time.Second); code != 0 {
		t.Fatalf("exit code %d after SIGTERM", code)
	}
}
