package restapi_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/evmgate/evmgate/internal/devnet"
)

// The tests share one devnet (two nodes) and each starts its own gateway
// in front of it. They run one after another: a test that mines moves
// "latest". TestMain closes it.
var shared *devnet.Net

func sharedNet(t *testing.T) *devnet.Net {
	t.Helper()
	if shared == nil {
		n, err := newNet(2)
		if err != nil {
			t.Fatal(err)
		}
		shared = n
	}
	return shared
}

func TestMain(m *testing.M) {
	code := m.Run()
	if shared != nil {
		if err := shared.Close(); err != nil {
			fmt.Fprintln(os.Stderr, "closing devnet:", err)
			code = 1
		}
	}
	os.Exit(code)
}

// restYAML enables the REST routes on the test network.
const restYAML = "    rest_api: true\n"

// Every route answers what the node answers to the same JSON-RPC call,
// over HTTP and, under /ws/, over the node's WebSocket.
func TestRoutesAnswerAsTheNode(t *testing.T) {
	net := sharedNet(t)
	g := startGateway(t, gatewayYAML(net, restYAML))
	node := net.Nodes()[0].HTTPURL()
	cases := []struct {
		method, route, body string
		rpc, params         string
	}{
		{"GET", "blocknumber", "", "eth_blockNumber", `[]`},
		{"GET", "gasprice", "", "eth_gasPrice", `[]`},
		{"POST", "blockbynumber", `{"block": "latest", "txdetails": "false"}`, "eth_getBlockByNumber", `["latest",false]`},
		{"POST", "blockbynumber", `{"block": "0x1", "txdetails": true}`, "eth_getBlockByNumber", `["0x1",true]`},
		{"POST", "blockbynumber", `{"block": 1, "txdetails": "true"}`, "eth_getBlockByNumber", `["0x1",true]`},
		{"POST", "blockbynumber", `{"block": "earliest", "txdetails": false}`, "eth_getBlockByNumber", `["earliest",false]`},
		{"POST", "blockbynumber", `{"block": "0x64", "txdetails": false}`, "eth_getBlockByNumber", `["0x64",false]`},
		{"POST", "txbyblockandindex", `{"block": "0x1", "index": "0x0"}`, "eth_getTransactionByBlockNumberAndIndex", `["0x1","0x0"]`},
		{"POST", "txbyblockandindex", `{"block": "latest", "index": "0x01"}`, "eth_getTransactionByBlockNumberAndIndex", `["latest","0x1"]`},
		{"POST", "txbyblockandindex", `{"block": "0x1", "index": "0x9"}`, "eth_getTransactionByBlockNumberAndIndex", `["0x1","0x9"]`},
	}
	for _, prefix := range []string{"", "ws/"} {
		for _, c := range cases {
			got := send(t, c.method, g.RPCURL()+"/"+networkName+"/"+prefix+c.route, c.body, nil)
			want := rpcCall(t, node, c.rpc, c.params)
			if got.status != http.StatusOK || strings.TrimSpace(got.body) != strings.TrimSpace(want) {
				t.Errorf("%s /%s%s %s:\n got %d %.300s\nwant %.300s", c.method, prefix, c.route, c.body, got.status, got.body, want)
			}
		}
	}
	// Block 1 is a real block with both transfers, and the answers above
	// were not all nulls.
	full := send(t, "POST", g.RPCURL()+"/"+networkName+"/blockbynumber", `{"block": "0x1", "txdetails": true}`, nil)
	var blk struct {
		Result struct {
			Number       string           `json:"number"`
			Transactions []map[string]any `json:"transactions"`
		} `json:"result"`
	}
	if err := json.Unmarshal([]byte(full.body), &blk); err != nil || blk.Result.Number != "0x1" || len(blk.Result.Transactions) != 2 {
		t.Fatalf("block 1: %v %.300s", err, full.body)
	}
}

var datetime = regexp.MustCompile(`^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(\.\d+)? [+-]\d{4} \S+( m=[+-]\d+\.\d+)?$`)

// /health and /ws/health answer the web server's health body, without
// asking a node.
func TestHealthAnswersWithoutNodes(t *testing.T) {
	net := sharedNet(t)
	g := startGateway(t, gatewayYAML(net, restYAML))
	before := metric(t, g.Registry(), "loadbalancer_requests_total")
	for _, path := range []string{"/health", "/ws/health"} {
		a := send(t, "GET", g.RPCURL()+"/"+networkName+path, "", nil)
		var h map[string]any
		if err := json.Unmarshal([]byte(a.body), &h); err != nil || a.status != http.StatusOK {
			t.Fatalf("%s: %d %s (%v)", path, a.status, a.body, err)
		}
		dt, _ := h["datetime"].(string)
		if len(h) != 3 || h["status"] != 202.0 || h["message"] != "Healthcheck response" || !datetime.MatchString(dt) {
			t.Fatalf("%s: %s, want the web server's health body", path, a.body)
		}
	}
	if after := metric(t, g.Registry(), "loadbalancer_requests_total"); after != before {
		t.Fatalf("health made %v JSON-RPC calls, want none", after-before)
	}
}

// Bad input gets {"statuscode":N,"message":"…"} with HTTP status N, and
// no call reaches a node.
func TestBadInputGetsTheWebServerError(t *testing.T) {
	net := sharedNet(t)
	g := startGateway(t, gatewayYAML(net, restYAML))
	base := g.RPCURL() + "/" + networkName
	before := metric(t, g.Registry(), "loadbalancer_requests_total")
	cases := []struct {
		method, path, body string
		status             int
		says               string
	}{
		{"POST", "/blockbynumber", `{"block": "latest", "txdetails": `, 400, "Malformed Request: the body is not valid JSON"},
		{"POST", "/ws/blockbynumber", `not json`, 400, "Malformed Request: the body is not valid JSON"},
		{"POST", "/txbyblockandindex", `{"block": "latest",}`, 400, "Malformed Request: the body is not valid JSON"},
		{"POST", "/blockbynumber", ``, 400, "Malformed Request: the body is empty"},
		{"POST", "/blockbynumber", `{"txdetails": false}`, 400, `Malformed Request: "block" is required`},
		{"POST", "/blockbynumber", `{"block": "latest"}`, 400, `Malformed Request: "txdetails" is required`},
		{"POST", "/txbyblockandindex", `{"index": "0x0"}`, 400, `Malformed Request: "block" is required`},
		{"POST", "/txbyblockandindex", `{"block": "0x1"}`, 400, `Malformed Request: "index" is required`},
		{"POST", "/blockbynumber", `{"block": "lastest", "txdetails": false}`, 400, `Malformed Request: "block" is not a whole number, got "lastest"`},
		{"POST", "/ws/txbyblockandindex", `{"block": "newest", "index": "0x0"}`, 400, `Malformed Request: "block" is not a whole number, got "newest"`},
		{"POST", "/txbyblockandindex", `{"block": "0x1", "index": "-1"}`, 400, `Malformed Request: "index" must not be negative`},
		{"POST", "/txbyblockandindex", `{"block": "0x1", "index": -3}`, 400, `Malformed Request: "index" must not be negative`},
		{"POST", "/blockbynumber", `{"block": "0x1", "txdetails": "yes"}`, 400, `Malformed Request: "txdetails" is not a boolean`},
		{"POST", "/blockbynumber", `{"block": "0x1", "txdetails": false, "pad": "` + strings.Repeat("x", 70_000) + `"}`, 413, "Malformed Request: the body is over"},
		{"GET", "/blockbynumber", ``, 405, "GET is not served at /devnet/blockbynumber: use POST"},
		{"POST", "/blocknumber", `{}`, 405, "POST is not served at /devnet/blocknumber: use GET"},
		{"DELETE", "/ws/health", ``, 405, "use GET"},
		{"GET", "/socket2socket", ``, 426, "Error Upgrading to WebSocket connection"},
	}
	for _, c := range cases {
		a := send(t, c.method, base+c.path, c.body, nil)
		var e map[string]any
		if err := json.Unmarshal([]byte(a.body), &e); err != nil {
			t.Errorf("%s %s: %d %s: not JSON: %v", c.method, c.path, a.status, a.body, err)
			continue
		}
		msg, _ := e["message"].(string)
		if a.status != c.status || len(e) != 2 || e["statuscode"] != float64(c.status) || !strings.HasPrefix(msg, c.says) && !strings.Contains(msg, c.says) {
			t.Errorf("%s %s %.80s:\n got %d %s\nwant %d {\"statuscode\":%d,\"message\":\"%s…\"}", c.method, c.path, c.body, a.status, a.body, c.status, c.status, c.says)
		}
	}
	if after := metric(t, g.Registry(), "loadbalancer_requests_total"); after != before {
		t.Fatalf("bad input made %v JSON-RPC calls, want none", after-before)
	}
}

// The routes of a network without rest_api, and paths that are not routes,
// are answered as without the REST interface: by the JSON-RPC handler.
func TestRoutesOnlyWhereEnabled(t *testing.T) {
	net := sharedNet(t)
	yaml := gatewayYAML(net, restYAML)
	plain := strings.Replace(gatewayYAML(net, ""), "networks:\n  - name: "+networkName, "  - name: plain", 1)
	_, plainNet, _ := strings.Cut(plain, "\n  - name: plain")
	g := startGateway(t, yaml+"  - name: plain"+plainNet)
	for _, c := range []struct{ method, path string }{
		{"GET", "/plain/blocknumber"}, {"GET", "/plain/health"}, {"GET", "/plain/ws/gasprice"},
		{"POST", "/plain/blockbynumber"}, {"GET", "/plain/socket2socket"},
		{"GET", "/devnet/nosuchroute"}, {"GET", "/devnet/ws/socket2socket"}, {"GET", "/devnet/ws/"}, {"GET", "/devnet/blocknumber/"},
	} {
		a := send(t, c.method, g.RPCURL()+c.path, `{"block":"latest","txdetails":false}`, nil)
		if a.status != http.StatusNotFound || !strings.Contains(a.body, `"error":"unknown network`) {
			t.Errorf("%s %s: %d %s, want the JSON-RPC handler's 404 for an unknown network", c.method, c.path, a.status, a.body)
		}
	}
	for _, network := range []string{"devnet", "plain"} {
		a := send(t, "POST", g.RPCURL()+"/"+network, `{"jsonrpc":"2.0","id":5,"method":"eth_chainId","params":[]}`, nil)
		if a.status != http.StatusOK || strings.TrimSpace(a.body) != `{"jsonrpc":"2.0","id":5,"result":"0x539"}` {
			t.Errorf("JSON-RPC on %s: %d %s", network, a.status, a.body)
		}
	}
}
