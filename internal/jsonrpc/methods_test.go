package jsonrpc

import (
	"math"
	"testing"
)

func TestBlockNumber(t *testing.T) {
	tests := []struct {
		method string
		params string
		want   uint64
		ok     bool
	}{
		{"eth_getBlockByNumber", `["0x1b4",true]`, 0x1b4, true},
		{"eth_getBlockByNumber", `[ "0x0" , false ]`, 0, true},
		{"eth_getBalance", `["0x407d73d8a49eeb85d32cf465507dd71d507100c1","0x10"]`, 16, true},
		{"eth_getStorageAt", `["0x295a70b2de5e3953354a6a8344e616ed314d7251","0x6661e9d6d8b923d5bbaab1b96e1dd51ff6ea2a93520fdc9eb75d059238b8c5e9","0x7"]`, 7, true},
		{"eth_getProof", `["0xa",["0x1",{"skip":["0x2"]}],"0xff"]`, 255, true},
		{"eth_call", `[{"to":"0xa","data":"0x","nested":{"a":[1,2,"0x9"]}},"0x9"]`, 9, true},
		{"eth_feeHistory", `["0x4","0x12ab",[25,75]]`, 0x12ab, true},
		{"debug_traceCall", `[{"to":"0xa"},"0xA",{"tracer":"callTracer"}]`, 10, true},
		{"eth_getBlockByNumber", `["0xFFFFFFFFFFFFFFFF",false]`, math.MaxUint64, true},
		// EIP-1898 block parameter objects.
		{"eth_call", `[{"to":"0xa"},{"blockNumber":"0x5"}]`, 5, true},
		{"eth_getBalance", `["0xa",{"requireCanonical":true,"blockNumber":"0x2a"}]`, 42, true},
		{"eth_getBalance", `["0xa",{"blockHash":"0xd4e56740f876aef8c010b86a40d5f56745a118d0906a34e69aec8c0db1cb8fa3"}]`, 0, false},
		{"eth_getBalance", `["0xa",{"blockNumber":"latest"}]`, 0, false},
		// Tags are not numbers.
		{"eth_getBalance", `["0xa","latest"]`, 0, false},
		{"eth_getBalance", `["0xa","pending"]`, 0, false},
		{"eth_getBalance", `["0xa","earliest"]`, 0, false},
		{"eth_getBalance", `["0xa","safe"]`, 0, false},
		{"eth_getBlockByNumber", `["finalized",false]`, 0, false},
		// Missing or malformed block parameters.
		{"eth_getBalance", `["0xa"]`, 0, false},
		{"eth_getBalance", `[]`, 0, false},
		{"eth_getBalance", ``, 0, false},
		{"eth_getBalance", `{"address":"0xa","block":"0x1"}`, 0, false},
		{"eth_getBalance", `["0xa",16]`, 0, false},
		{"eth_getBalance", `["0xa","0x"]`, 0, false},
		{"eth_getBalance", `["0xa","0x10000000000000000"]`, 0, false},
		{"eth_getBalance", `["0xa","10"]`, 0, false},
		// Methods without a block parameter.
		{"eth_blockNumber", `["0x1"]`, 0, false},
		{"eth_getTransactionByHash", `["0x1"]`, 0, false},
		{"eth_getLogs", `[{"fromBlock":"0x1","toBlock":"0x2"}]`, 2, true},
		{"eth_getLogs", `[{"fromBlock":"0x10","toBlock":"latest"}]`, 16, true},
		{"eth_getLogs", `[{"blockHash":"0xab"}]`, 0, false},
		{"eth_newFilter", `[{"toBlock":"0x5"}]`, 5, true},
		{"foo_unknown", `["0x1"]`, 0, false},
	}
	for _, tt := range tests {
		c := Call{Method: tt.method}
		if tt.params != "" {
			c.Params = []byte(tt.params)
		}
		n, ok := c.BlockNumber()
		if n != tt.want || ok != tt.ok {
			t.Errorf("%s %s: got %d %v, want %d %v", tt.method, tt.params, n, ok, tt.want, tt.ok)
		}
	}
}

func TestByHash(t *testing.T) {
	const hash = `"0xd4e56740f876aef8c010b86a40d5f56745a118d0906a34e69aec8c0db1cb8fa3"`
	for _, tt := range []struct {
		method, params string
		want           bool
	}{
		{"eth_getTransactionReceipt", `["0x1"]`, true}, // a method of lookups by hash
		{"eth_getBlockReceipts", `[` + hash + `]`, true},
		{"eth_getBlockReceipts", `["0x10"]`, false},
		{"eth_getBlockReceipts", `["latest"]`, false},
		{"eth_getBalance", `["0xa",{"blockHash":` + hash + `}]`, true},
		{"eth_call", `[{"to":"0xa"},{"requireCanonical":true,"blockHash":` + hash + `}]`, true},
		{"eth_getBalance", `["0xa",{"blockNumber":"0x10"}]`, false},
		{"eth_getBalance", `["0xa",` + hash + `]`, true}, // geth takes a bare hash here too
		{"eth_getLogs", `[{"blockHash":` + hash + `}]`, false},
		{"eth_blockNumber", `[]`, false},
		{"foo_unknown", `[` + hash + `]`, false},
	} {
		c := Call{Method: tt.method, Params: []byte(tt.params)}
		if got := c.ByHash(); got != tt.want {
			t.Errorf("%s %s: ByHash %v, want %v", tt.method, tt.params, got, tt.want)
		}
	}
}

// TestBlockNumberFromParse: the block number of a call as the client sent it.
func TestBlockNumberFromParse(t *testing.T) {
	calls, _, err := Parse([]byte(`{"jsonrpc":"2.0","id":1,"method":"eth_getCode","params":["0xa", "0x1234"]}`))
	if err != nil {
		t.Fatal(err)
	}
	if n, ok := calls[0].BlockNumber(); !ok || n != 0x1234 {
		t.Errorf("got %d %v", n, ok)
	}
}

func TestParseQuantity(t *testing.T) {
	tests := []struct {
		in   string
		want uint64
		ok   bool
	}{
		{`"0x0"`, 0, true},
		{`"0x1b4"`, 436, true},
		{`"0X1B4"`, 436, true},
		{`"0x01"`, 1, true},
		{`"0xffffffffffffffff"`, math.MaxUint64, true},
		{`"0x10000000000000000"`, 0, false},
		{`"0x"`, 0, false},
		{`"0xg"`, 0, false},
		{`"0x-1"`, 0, false},
		{`"1b4"`, 0, false},
		{`"436"`, 0, false},
		{`0x1b4`, 0, false},
		{`436`, 0, false},
		{`"0x1`, 0, false},
		{`null`, 0, false},
		{``, 0, false},
	}
	for _, tt := range tests {
		n, ok := ParseQuantity([]byte(tt.in))
		if n != tt.want || ok != tt.ok {
			t.Errorf("ParseQuantity(%s) = %d %v, want %d %v", tt.in, n, ok, tt.want, tt.ok)
		}
	}
}

func TestMethodTable(t *testing.T) {
	if !Known("eth_call") || Known("eth_nope") {
		t.Error("Known")
	}
	if Label("eth_call") != "eth_call" || Label("admin_peers\x00") != "other" || Label("") != "other" {
		t.Error("Label")
	}
	if mi := Info("eth_sendRawTransaction"); !mi.SendTx || mi.BlockParam != -1 {
		t.Errorf("eth_sendRawTransaction: %+v", mi)
	}
	if mi := Info("eth_subscribe"); !mi.Subscription {
		t.Errorf("eth_subscribe: %+v", mi)
	}
	if mi := Info("nope"); mi.BlockParam != -1 || mi.SendTx || mi.Subscription {
		t.Errorf("unknown: %+v", mi)
	}
	// Known names are interned: the parsed method is the table's string.
	calls, _, _ := Parse([]byte(blockNumberCall))
	if m := calls[0].Method; m != "eth_blockNumber" || !Known(m) {
		t.Errorf("method %q", m)
	}
}

func TestResultIsNull(t *testing.T) {
	for body, want := range map[string]bool{
		`{"jsonrpc":"2.0","id":1,"result":null}`:       true,
		`{"jsonrpc":"2.0","id":1,"result" : null }`:    true,
		`{"jsonrpc":"2.0","id":1,"result":{"a":null}}`: false,
		`{"jsonrpc":"2.0","id":1,"result":"0x0"}`:      false,
		`{"\"result":null,"id":1,"result":"0x0"}`:      false,
		`{"id":"\"result","result":null}`:              true,
	} {
		if got := ResultIsNull([]byte(body)); got != want {
			t.Errorf("ResultIsNull(%s) = %v, want %v", body, got, want)
		}
	}
}
