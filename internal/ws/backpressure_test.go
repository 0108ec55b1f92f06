package ws_test

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/evmgate/evmgate/internal/fakenode"
)

// TestUnreadAnswersStopTheReader: a client that sends many calls with
// large answers and never reads them gets no more calls started than its
// queue's byte bound and max_calls_per_connection allow, however many it
// sends; it is cut off by the write timeout, and another connection is
// served meanwhile. Socket buffers on both ends are small so the queue,
// not the kernel, holds what the client does not read.
func TestUnreadAnswersStopTheReader(t *testing.T) {
	const calls, answer = 200, 100 << 10
	node, err := fakenode.Start(fakenode.Options{Name: "big", ChainID: 7, Head: 100, BigBlock: answer})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(node.Close)
	yaml := "log_level: WARN\nlog_requests: false\nnetworks:\n  - name: dev\n    chain_id: 7\n    cache: false\n" +
		"    local_poll_interval: 1h\n    local_nodes:\n      - rpc_endpoint: " + node.URL() + "\n" +
		"websocket:\n  subscriber_buffer_bytes: 262144\n  max_calls_per_connection: 4\n  write_timeout: 2s\n"
	g := startGatewayOn(t, yaml, &firstSmallListener{})
	url := wsURL(g)

	stalled := dialRaw(t, url, 4096) // the first connection accepted
	before := node.Calls("eth_getBlockByNumber")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for i := range calls {
		msg := `{"jsonrpc":"2.0","id":` + strconv.Itoa(i) + `,"method":"eth_getBlockByNumber","params":["0x1",true]}`
		if err := stalled.Write(ctx, websocket.MessageText, []byte(msg)); err != nil {
			t.Fatalf("sending call %d: %v", i, err)
		}
	}
	// Another client is served while the first holds its queue full.
	waitFor(t, "the stalled client's calls to reach the node", time.Minute, func() bool {
		return node.Calls("eth_getBlockByNumber")-before >= 4
	})
	other := dialWS(t, url)
	if m := other.call("eth_chainId"); string(m.Result) != `"0x7"` {
		t.Fatalf("another client's call: %+v", m)
	}
	reg := g.Registry()
	waitFor(t, "the stalled client to be cut off", time.Minute, func() bool {
		return metric(t, reg, "evmgate_ws_disconnects_total", map[string]string{"reason": "write_failed"}) == 1
	})
	// The bound: 256 KiB waiting (3 answers, a fourth taken past it), 4
	// in flight, what the small socket buffers took, and a few for slack.
	if n := node.Calls("eth_getBlockByNumber") - before; n > 20 {
		t.Fatalf("the node was asked %d of the %d calls of a client that read none of their answers; want at most 20", n, calls)
	}
	if all := metric(t, reg, "evmgate_ws_disconnects_total", nil); all != 1 {
		t.Fatalf("%v disconnects, want the stalled client's alone", all)
	}
}
