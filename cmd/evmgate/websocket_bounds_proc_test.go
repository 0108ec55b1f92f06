package main

import (
	"context"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/evmgate/evmgate/internal/fakenode"
)

// A WebSocket client that sends 400 calls for large blocks in a burst and
// never reads the answers, with the websocket settings left to their
// defaults: the gateway's heap stays bounded (it held about 500 MB before
// the queue counted bytes), the node is not asked every call at once,
// another client is served meanwhile, and the client is cut off by the
// write timeout.
func TestWebSocketUnreadAnswersBoundedAsProcess(t *testing.T) {
	// The bound: the heap of 64 answers in flight (max_calls_per_connection)
	// and 8 MiB waiting, with the garbage a collection has not taken yet;
	// measured 95-155 MB, against 500-600 MB before.
	const calls, heapBound = 400, 250e6
	node, err := fakenode.Start(fakenode.Options{Name: "big", ChainID: 7, Head: 100, BigBlock: 900_000})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(node.Close)
	rpcPort, metricsPort := freePort(t), freePort(t)
	cfg := filepath.Join(t.TempDir(), "evmgate.yaml")
	writeFile(t, cfg, listeners(rpcPort, metricsPort)+"networks:\n  - name: big\n    chain_id: 7\n    cache: false\n"+
		fakeNodesYAML("local_nodes", "", node))
	p := startProc(t, nil, "-config", cfg)
	p.waitOutput(p.stderr, "gateway started", 2*time.Minute)
	url, metricsURL := "ws://"+addr(rpcPort)+"/big", "http://"+addr(metricsPort)
	heap := func() float64 {
		v, _ := strconv.ParseFloat(metricLine(t, metricsURL, "go_memstats_heap_inuse_bytes"), 64)
		return v
	}
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()

	stalled, _, _, err := wsDial(ctx, url, "")
	if err != nil {
		t.Fatal(err)
	}
	defer stalled.CloseNow()
	before := node.Calls("eth_getBlockByNumber")
	for i := range calls {
		msg := `{"jsonrpc":"2.0","id":` + itoa(i) + `,"method":"eth_getBlockByNumber","params":["0x1",true]}`
		if err := stalled.Write(ctx, websocket.MessageText, []byte(msg)); err != nil {
			t.Fatalf("sending call %d: %v", i, err)
		}
	}
	eventually(t, time.Minute, "the calls to reach the node", func() bool { return node.Calls("eth_getBlockByNumber")-before >= 10 })

	other, status, body, err := wsDial(ctx, url, "")
	if err != nil {
		t.Fatalf("another client: %d %v %s", status, err, body)
	}
	defer other.CloseNow()
	if got := wsCall(ctx, t, other, chainIDCall); !strings.Contains(got, `"result":"0x7"`) {
		t.Fatalf("another client's call while the first does not read: %s", got)
	}

	// Until the write timeout (10s) cuts the client off, the heap is
	// sampled; the node calls are counted once it has.
	peak := 0.0
	eventually(t, time.Minute, "the client that does not read to be cut off", func() bool {
		peak = max(peak, heap())
		return metricLine(t, metricsURL, `evmgate_ws_disconnects_total{network="big",reason="write_failed"}`) == "1"
	})
	asked := node.Calls("eth_getBlockByNumber") - before
	t.Logf("heap in use: %.0f MB at the peak; node asked %d block calls (health probes included)", peak/1e6, asked)
	if peak > heapBound {
		t.Errorf("heap in use reached %.0f MB while a client did not read its answers; want under %.0f MB", peak/1e6, heapBound/1e6)
	}
	// max_calls_per_connection (64) in flight, 8 MiB waiting, the socket
	// buffers and the health probes: far from all 400.
	if asked >= 200 {
		t.Errorf("the node was asked %d of the %d calls of a client that read none of their answers", asked, calls)
	}
	// The client finds its connection closed once it reads what the
	// socket held.
	for {
		if _, _, err := stalled.Read(ctx); err != nil {
			if ctx.Err() != nil {
				t.Fatal("the connection of the client that did not read is still open")
			}
			break
		}
	}
	if got := wsCall(ctx, t, other, chainIDCall); !strings.Contains(got, `"result":"0x7"`) {
		t.Fatalf("the other client after the cut: %s", got)
	}
}
