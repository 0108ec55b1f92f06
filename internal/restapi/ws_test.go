package restapi_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
)

// The /ws/ routes reach the chosen node over its WebSocket connection; the
// plain routes do not open one.
func TestWSRoutesGoOverTheNodesWebSockets(t *testing.T) {
	net := sharedNet(t)
	g := startGateway(t, gatewayYAML(net, restYAML))
	base := g.RPCURL() + "/" + networkName
	for range 5 {
		send(t, "GET", base+"/blocknumber", "", nil)
		send(t, "POST", base+"/blockbynumber", `{"block": "0x1", "txdetails": true}`, nil)
	}
	if d := metric(t, g.Registry(), "evmgate_ws_upstream_dials_total"); d != 0 {
		t.Fatalf("the plain routes dialed %v node WebSockets, want none", d)
	}
	calls := metric(t, g.Registry(), "evmgate_node_requests_total", "outcome", "ok")
	for range 5 {
		for _, r := range []struct{ method, path, body string }{
			{"GET", "/ws/blocknumber", ""},
			{"GET", "/ws/gasprice", ""},
			{"POST", "/ws/blockbynumber", `{"block": "0x1", "txdetails": true}`},
			{"POST", "/ws/txbyblockandindex", `{"block": "0x1", "index": "0x1"}`},
		} {
			if a := send(t, r.method, base+r.path, r.body, nil); a.status != http.StatusOK || !strings.Contains(a.body, `"result":`) {
				t.Fatalf("%s: %d %s", r.path, a.status, a.body)
			}
		}
	}
	if d := metric(t, g.Registry(), "evmgate_ws_upstream_dials_total", "outcome", "ok"); d < 1 {
		t.Fatal("the /ws/ routes dialed no node WebSocket")
	}
	if c := metric(t, g.Registry(), "evmgate_ws_upstream_connections"); c < 1 {
		t.Fatalf("%v node WebSocket connections open after the /ws/ routes, want at least 1", c)
	}
	if d := metric(t, g.Registry(), "evmgate_node_requests_total", "outcome", "ok") - calls; d < 20 {
		t.Fatalf("%v node tries counted for 20 /ws/ calls: they did not take the gateway's path", d)
	}
}

// Each route's call takes the client's priority class through the
// gateway's scheduler.
func TestRoutesTakeThePriorityClass(t *testing.T) {
	net := sharedNet(t)
	g := startGateway(t, gatewayYAML(net, restYAML))
	base := g.RPCURL() + "/" + networkName
	for _, c := range []struct {
		header http.Header
		class  string
	}{
		{http.Header{"X-Fast-Track": {"true"}}, "fast_track"},
		{http.Header{"X-High-Priority": {"true"}}, "high"},
		{nil, "low"},
	} {
		before := metric(t, g.Registry(), "evmgate_queue_wait_seconds", "class", c.class)
		send(t, "GET", base+"/blocknumber", "", c.header)
		send(t, "POST", base+"/ws/txbyblockandindex", `{"block": "0x1", "index": "0x0"}`, c.header)
		if got := metric(t, g.Registry(), "evmgate_queue_wait_seconds", "class", c.class) - before; got != 2 {
			t.Errorf("class %s: %v calls granted, want 2", c.class, got)
		}
	}
}

// A node that dies is failed over: every route keeps answering, over HTTP
// and over the WebSockets.
func TestRoutesFailOver(t *testing.T) {
	net := startNet(t, 2)
	g := startGateway(t, gatewayYAML(net, restYAML))
	base := g.RPCURL() + "/" + networkName
	want := rpcCall(t, net.Nodes()[1].HTTPURL(), "eth_getBlockByNumber", `["0x1",true]`)
	if a := send(t, "POST", base+"/ws/blockbynumber", `{"block": "0x1", "txdetails": true}`, nil); a.status != 200 {
		t.Fatalf("before: %d %s", a.status, a.body) // the node WebSockets are open
	}
	if err := net.Nodes()[0].Stop(); err != nil {
		t.Fatal(err)
	}
	for i := range 20 {
		for _, path := range []string{"/blockbynumber", "/ws/blockbynumber"} {
			a := send(t, "POST", base+path, `{"block": "0x1", "txdetails": true}`, nil)
			if a.status != http.StatusOK || strings.TrimSpace(a.body) != strings.TrimSpace(want) {
				t.Fatalf("call %d on %s after a node died: %d %.200s", i, path, a.status, a.body)
			}
		}
	}
}

// /socket2socket is the gateway's WebSocket endpoint with the calls relayed
// over the nodes' WebSockets: calls answer as the node does and
// subscriptions push.
func TestSocket2SocketRelaysCallsAndSubscriptions(t *testing.T) {
	net := sharedNet(t)
	g := startGateway(t, gatewayYAML(net, restYAML))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	url := "ws" + strings.TrimPrefix(g.RPCURL(), "http") + "/" + networkName + "/socket2socket"
	c, _, err := websocket.Dial(ctx, url, nil)
	if err != nil {
		t.Fatalf("dialing %s: %v", url, err)
	}
	defer c.CloseNow()
	roundTrip := func(msg string) string {
		t.Helper()
		if err := c.Write(ctx, websocket.MessageText, []byte(msg)); err != nil {
			t.Fatal(err)
		}
		_, b, err := c.Read(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	// The web server's own example request.
	got := roundTrip(`{"jsonrpc":"2.0","method":"eth_getBlockByNumber","params": ["0x1",false],"id":1}`)
	if want := rpcCall(t, net.Nodes()[0].HTTPURL(), "eth_getBlockByNumber", `["0x1",false]`); strings.TrimSpace(got) != strings.TrimSpace(want) {
		t.Fatalf("eth_getBlockByNumber over socket2socket:\n got %.300s\nwant %.300s", got, want)
	}
	if d := metric(t, g.Registry(), "evmgate_ws_upstream_dials_total", "outcome", "ok"); d < 1 {
		t.Fatal("the call went to no node WebSocket")
	}
	var sub struct {
		Result string `json:"result"`
	}
	if err := json.Unmarshal([]byte(roundTrip(`{"jsonrpc":"2.0","id":2,"method":"eth_subscribe","params":["newHeads"]}`)), &sub); err != nil || sub.Result == "" {
		t.Fatalf("eth_subscribe: %v %+v", err, sub)
	}
	head, err := net.Mine(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for {
		_, b, err := c.Read(ctx)
		if err != nil {
			t.Fatalf("waiting for block %d's notification: %v", head, err)
		}
		var n struct {
			Method string `json:"method"`
			Params struct {
				Subscription string `json:"subscription"`
				Result       struct {
					Number string `json:"number"`
				} `json:"result"`
			} `json:"params"`
		}
		if err := json.Unmarshal(b, &n); err != nil || n.Method != "eth_subscription" || n.Params.Subscription != sub.Result {
			t.Fatalf("not a notification of %s: %s", sub.Result, b)
		}
		if n.Params.Result.Number == "0x"+strconv.FormatUint(head, 16) {
			break
		}
	}
	if got := metric(t, g.Registry(), "evmgate_rest_requests_total", "route", "socket2socket", "status", "101"); got != 1 {
		t.Fatalf("evmgate_rest_requests_total{route=socket2socket,status=101} = %v, want 1", got)
	}
}
