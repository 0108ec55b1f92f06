//go:build !nodemo

package main

import (
	"bytes"
	"context"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/evmgate/evmgate/internal/devnet"
)

// A pool of two real go-ethereum nodes, one serving the debug namespace
// and one not (a mixed pool: an archive node with debug_, a plain one, a
// provider's plan without it). Calls of debug_ methods always succeed
// through the gateway: the node without it is tried once, answers
// "method not found", and is passed over for that method from then on; a
// node whose methods list leaves the method out is never sent it; a method
// no node serves gets the node's own error.
func TestMethodRoutingAsProcessDevnet(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
	defer cancel()
	net, err := devnet.Start(ctx, devnet.Config{Nodes: 2, Modules: func(i int) []string {
		if i == 0 {
			return []string{"eth", "net", "web3", "txpool", "debug"}
		}
		return []string{"eth", "net", "web3", "txpool"}
	}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { net.Close() })
	if _, err := net.Mine(ctx); err != nil {
		t.Fatal(err)
	}
	withDebug, noDebug := net.Nodes()[0], net.Nodes()[1]

	// Each network's node without debug_ sits behind a relay that counts
	// the requests with a debug_getRawHeader call that reach it.
	var learnedHits, listedHits atomic.Int64
	counting := func(hits *atomic.Int64) string {
		return relay(t, noDebug.HTTPURL(), func(_ *http.Request, body []byte) {
			if bytes.Contains(body, []byte(`"debug_getRawHeader"`)) {
				hits.Add(1)
			}
		}).URL
	}
	rpcPort, metricsPort := freePort(t), freePort(t)
	network := func(name, noDebugURL, extra string) string {
		return "  - name: " + name + "\n    chain_id: 1337\n    cache: false\n    strategy: round_robin\n    local_nodes:\n" +
			"      - name: with-debug\n        rpc_endpoint: " + withDebug.HTTPURL() + "\n" +
			"      - name: no-debug\n        rpc_endpoint: " + noDebugURL + "\n" + extra
	}
	cfg := filepath.Join(t.TempDir(), "evmgate.yaml")
	writeFile(t, cfg, listeners(rpcPort, metricsPort)+"networks:\n"+
		network("learned", counting(&learnedHits), "")+
		network("listed", counting(&listedHits), "        methods: {deny: [\"debug_*\"]}\n"))
	p := startProc(t, nil, "-config", cfg)
	p.waitOutput(p.stderr, "gateway started", 2*time.Minute)
	base := "http://" + addr(rpcPort)

	header := `{"jsonrpc":"2.0","id":7,"method":"debug_getRawHeader","params":["0x1"]}`
	_, want := rpc(t, withDebug.HTTPURL(), header)
	if !strings.Contains(want, `"result":"0x`) {
		t.Fatalf("the node with debug_ answers %s", want)
	}
	eventually(t, time.Minute, "both nodes to serve", func() bool {
		for _, network := range []string{"learned", "listed"} {
			for _, node := range []string{"with-debug", "no-debug"} {
				if !nodeStatusOf(t, metricsPort, network, node).Eligible {
					return false
				}
			}
		}
		return true
	})
	for _, name := range []string{"learned", "listed"} {
		for i := range 12 {
			if code, got := rpc(t, base+"/"+name, header); code != 200 || got != want {
				t.Fatalf("%s, call %d: %d %s\nwant %s", name, i, code, got, want)
			}
		}
	}
	if n := learnedHits.Load(); n != 1 {
		t.Fatalf("the node without debug_ got %d of the calls, want exactly 1 (then passed over)", n)
	}
	if n := listedHits.Load(); n != 0 {
		t.Fatalf("the node whose methods list denies debug_* got %d calls", n)
	}
	if missing := nodeStatusOf(t, metricsPort, "learned", "no-debug").MissingMethods; !slices.Equal(missing, []string{"debug_getRawHeader"}) {
		t.Fatalf("/status missing_methods of no-debug = %v, want [debug_getRawHeader]", missing)
	}

	// A batch of that method alone goes to the node that serves it.
	twice := `[` + header + `,` + strings.Replace(header, `"id":7`, `"id":9`, 1) + `]`
	for i := range 4 {
		code, got := rpc(t, base+"/learned", twice)
		if code != 200 || got != "["+want+","+strings.Replace(want, `"id":7`, `"id":9`, 1)+"]" {
			t.Fatalf("batch of debug_getRawHeader %d: %d %s", i, code, got)
		}
	}
	if n := learnedHits.Load(); n != 1 {
		t.Fatalf("after batches of debug_getRawHeader alone, the node without debug_ got %d requests with it, want still 1", n)
	}

	// In a batch of several methods, a call the first node does not serve goes to the other.
	batch := `[` + header + `,{"jsonrpc":"2.0","id":8,"method":"eth_blockNumber","params":[]}]`
	for i := range 4 {
		code, got := rpc(t, base+"/learned", batch)
		if code != 200 || !strings.HasPrefix(got, "["+want+",") {
			t.Fatalf("batch %d: %d %s", i, code, got)
		}
	}

	// A method no node serves: the node's own answer, single or in a batch.
	nope := `{"jsonrpc":"2.0","id":"n","method":"debug_nope","params":[]}`
	_, wantNope := rpc(t, withDebug.HTTPURL(), nope)
	if !strings.Contains(wantNope, `"code":-32601`) {
		t.Fatalf("direct debug_nope: %s", wantNope)
	}
	for _, name := range []string{"learned", "listed"} {
		if code, got := rpc(t, base+"/"+name, nope); code != 200 || got != wantNope {
			t.Fatalf("%s debug_nope: %d %s\nwant %s", name, code, got, wantNope)
		}
		if code, got := rpc(t, base+"/"+name, "["+nope+"]"); code != 200 || got != "["+wantNope+"]" {
			t.Fatalf("%s debug_nope in a batch: %d %s\nwant [%s]", name, code, got, wantNope)
		}
	}
	if code, _ := p.terminate(30 * time.Second); code != 0 {
		t.Fatalf("exit code %d after SIGTERM", code)
	}
}
