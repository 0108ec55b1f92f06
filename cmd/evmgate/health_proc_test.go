package main

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/evmgate/evmgate/internal/fakenode"
	"github.com/evmgate/evmgate/internal/gateway"
)

// The health keys on a running process, one network each: the host load
// of use_load_tracker ranks nodes, max_block_age takes out a node whose
// newest block is old, and down_after counts the failures that take a
// node out.
func TestHealthKeysAsProcess(t *testing.T) {
	f := fakeNodes(t, 4, 1) // fake0, fake1: busy and idle hosts; fake2 stale; fake3 failing
	exporter := func(load string) string {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			fmt.Fprintf(w, "# TYPE node_load1 gauge\nnode_load1 %s\nnode_load5 0.5\n", load)
		}))
		t.Cleanup(srv.Close)
		return srv.URL + "/metrics"
	}
	// fake2 answers with a newest block from 2023.
	timestamp := regexp.MustCompile(`"timestamp":"0x[0-9a-f]+"`)
	stale := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec := httptest.NewRecorder()
		f[2].ServeHTTP(rec, r)
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(rec.Code)
		w.Write(timestamp.ReplaceAll(rec.Body.Bytes(), []byte(`"timestamp":"0x6553f100"`)))
	}))
	t.Cleanup(stale.Close)

	rpcPort, metricsPort := freePort(t), freePort(t)
	node := func(url, name, extra string) string {
		return "      - rpc_endpoint: " + url + "\n        name: " + name + "\n" + extra
	}
	cfg := filepath.Join(t.TempDir(), "evmgate.yaml")
	writeFile(t, cfg, listeners(rpcPort, metricsPort)+"cache:\n  enabled: false\nnetworks:\n"+
		"  - name: load\n    chain_id: 1\n    local_poll_interval: 100ms\n    use_load_tracker: true\n    load_balance_priority: [load]\n    strategy: best\n    local_nodes:\n"+
		node(f[0].URL(), "busy", "        prometheus_endpoint: "+exporter("8.00")+"\n")+
		node(f[1].URL(), "idle", "        prometheus_endpoint: "+exporter("0.25")+"\n")+
		"  - name: age\n    chain_id: 1\n    local_poll_interval: 100ms\n    max_block_age: 1m\n    local_nodes:\n"+
		node(f[1].URL(), "fresh", "")+node(stale.URL, "stale", "")+
		"  - name: patient\n    chain_id: 1\n    local_poll_interval: 100ms\n    down_after: 1000\n    local_nodes:\n"+
		node(f[1].URL(), "good", "")+node(f[3].URL(), "failing", "")+
		"  - name: strict\n    chain_id: 1\n    local_poll_interval: 100ms\n    down_after: 2\n    local_nodes:\n"+
		node(f[1].URL(), "good", "")+node(f[3].URL(), "failing", ""))
	p := startProc(t, nil, "-config", cfg)
	p.waitOutput(p.stderr, "gateway started", 2*time.Minute)

	status := func(network, name string) gateway.NodeStatus { return nodeStatusOf(t, metricsPort, network, name) }
	answeredBy := func(network string) string {
		code, body := rpc(t, "http://"+addr(rpcPort)+"/"+network, clientVersion)
		if code != 200 {
			t.Fatalf("%s: %d %s", network, code, body)
		}
		return body
	}

	t.Run("use_load_tracker", func(t *testing.T) {
		eventually(t, time.Minute, "both hosts' load read", func() bool {
			return status("load", "busy").Load == 8 && status("load", "idle").Load == 0.25
		})
		for range 6 {
			if body := answeredBy("load"); !strings.Contains(body, `"fake1"`) {
				t.Fatalf("a call went to the busy host: %s", body)
			}
		}
	})
	t.Run("max_block_age", func(t *testing.T) {
		eventually(t, time.Minute, "the node with an old block marked stale", func() bool {
			st := status("age", "stale")
			return st.State == "stale" && !st.Eligible && strings.Contains(st.Reason, "max_block_age")
		})
		if st := status("age", "fresh"); !st.Eligible {
			t.Fatalf("the fresh node: %+v", st)
		}
		for range 6 {
			if body := answeredBy("age"); !strings.Contains(body, `"fake1"`) {
				t.Fatalf("a call went to the stale node: %s", body)
			}
		}
	})
	t.Run("down_after", func(t *testing.T) {
		// The node serves first (an unchecked node is down until its chain
		// id is read), then every answer is an HTTP 500.
		eventually(t, time.Minute, "the failing node up in both networks", func() bool {
			return status("strict", "failing").Eligible && status("patient", "failing").Eligible
		})
		if err := f[3].SetMode(fakenode.Status500); err != nil {
			t.Fatal(err)
		}
		eventually(t, time.Minute, "down_after 2 to take the failing node down", func() bool {
			return status("strict", "failing").State == "down"
		})
		eventually(t, time.Minute, "five failures in a row under down_after 1000", func() bool {
			return status("patient", "failing").Failures >= 5
		})
		if st := status("patient", "failing"); st.State == "down" {
			t.Fatalf("down after %d failures with down_after 1000", st.Failures)
		}
	})
	if code, _ := p.terminate(30 * time.Second); code != 0 {
		t.Fatalf("exit code %d after SIGTERM", code)
	}
}
