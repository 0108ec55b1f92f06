package priolb

import (
	"io"
	"net/http"
	"strings"
	"testing"
)

// The mock node answers as prio-load-balancer's, and the calls of
// evmgate's probes, single and batched.
func TestMock(t *testing.T) {
	m, err := StartMock("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	for _, tc := range []struct{ body, want string }{
		{`{"jsonrpc":"2.0","method":"eth_callBundle","params":[],"id":1}`, `{"jsonrpc":"2.0","id":1,"result":"cool"}`},
		{`{"jsonrpc":"2.0","method":"net_version","params":[],"id":"a"}`, `{"jsonrpc":"2.0","id":"a","result":"1"}`},
		{`{"jsonrpc":"2.0","method":"eth_foo","params":[],"id":2}`, `{"jsonrpc":"2.0","id":2,"error":{"code":-32603,"message":"no RPC method handler implemented for eth_foo"}}`},
		{`[{"jsonrpc":"2.0","method":"eth_chainId","id":1},{"jsonrpc":"2.0","method":"eth_syncing","id":2}]`,
			`[{"jsonrpc":"2.0","id":1,"result":"0x1"},{"jsonrpc":"2.0","id":2,"result":false}]`},
		{`nonsense`, `"id":-1,"error":{"code":-32603,"message":"failed to parse JSON RPC request`},
	} {
		resp, err := http.Post(m.URL(), "application/json", strings.NewReader(tc.body))
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || !strings.Contains(string(b), tc.want) {
			t.Errorf("%s: %d %s, want %s", tc.body, resp.StatusCode, b, tc.want)
		}
	}
}
