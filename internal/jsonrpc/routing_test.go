package jsonrpc

import "testing"

func call(t *testing.T, body string) Call {
	t.Helper()
	calls, _, err := Parse([]byte(body))
	if err != nil {
		t.Fatalf("%s: %v", body, err)
	}
	return calls[0]
}

func TestStateBlock(t *testing.T) {
	tests := []struct {
		body  string
		block uint64
		ok    bool
	}{
		{`{"jsonrpc":"2.0","id":1,"method":"eth_getBalance","params":["0xab","0x10"]}`, 16, true},
		{`{"jsonrpc":"2.0","id":1,"method":"eth_call","params":[{"to":"0xab"}, {"blockNumber":"0x2a"}]}`, 42, true},
		{`{"jsonrpc":"2.0","id":1,"method":"eth_getStorageAt","params":["0xab","0x0","0x5"]}`, 5, true},
		{`{"jsonrpc":"2.0","id":1,"method":"debug_traceBlockByNumber","params":["0x7",{}]}`, 7, true},
		{`{"jsonrpc":"2.0","id":1,"method":"eth_getBalance","params":["0xab","latest"]}`, 0, false},
		{`{"jsonrpc":"2.0","id":1,"method":"eth_getBalance","params":["0xab"]}`, 0, false},
		{`{"jsonrpc":"2.0","id":1,"method":"eth_getBlockByNumber","params":["0x10",false]}`, 0, false}, // a block, not state
		{`{"jsonrpc":"2.0","id":1,"method":"eth_call","params":[{"to":"0xab"},{"blockHash":"0x01"}]}`, 0, false},
	}
	for _, tt := range tests {
		c := call(t, tt.body)
		if b, ok := c.StateBlock(); b != tt.block || ok != tt.ok {
			t.Errorf("%s: StateBlock = %d, %v; want %d, %v", tt.body, b, ok, tt.block, tt.ok)
		}
	}
}

func TestReadsHead(t *testing.T) {
	tests := []struct {
		body string
		want bool
	}{
		{`{"jsonrpc":"2.0","id":1,"method":"eth_blockNumber","params":[]}`, true},
		{`{"jsonrpc":"2.0","id":1,"method":"eth_getBalance","params":["0xab","latest"]}`, true},
		{`{"jsonrpc":"2.0","id":1,"method":"eth_getTransactionCount","params":["0xab", "pending"]}`, true},
		{`{"jsonrpc":"2.0","id":1,"method":"eth_call","params":[{"to":"0xab"}]}`, true},
		{`{"jsonrpc":"2.0","id":1,"method":"eth_getBlockByNumber","params":["latest",false]}`, true},
		{`{"jsonrpc":"2.0","id":1,"method":"eth_getBalance","params":["0xab","0x10"]}`, false},
		{`{"jsonrpc":"2.0","id":1,"method":"eth_getBalance","params":["0xab","finalized"]}`, false},
		{`{"jsonrpc":"2.0","id":1,"method":"eth_getTransactionReceipt","params":["0x01"]}`, false},
		{`{"jsonrpc":"2.0","id":1,"method":"eth_getLogs","params":[{}]}`, true}, // toBlock omitted: latest
		{`{"jsonrpc":"2.0","id":1,"method":"eth_getLogs","params":[{"fromBlock":"0x5a","toBlock":"latest"}]}`, true},
		{`{"jsonrpc":"2.0","id":1,"method":"eth_getLogs","params":[{"toBlock":"pending","address":"0xab"}]}`, true},
		{`{"jsonrpc":"2.0","id":1,"method":"eth_getLogs","params":[{"fromBlock":"latest","toBlock":"0x64"}]}`, false},
		{`{"jsonrpc":"2.0","id":1,"method":"eth_getLogs","params":[{"toBlock":"safe"}]}`, false},
		{`{"jsonrpc":"2.0","id":1,"method":"eth_getLogs","params":[{"fromBlock":"0x1","toBlock":null}]}`, true},
		{`{"jsonrpc":"2.0","id":1,"method":"eth_getLogs","params":[{"blockHash":"0x01"}]}`, false},
		{`{"jsonrpc":"2.0","id":1,"method":"eth_newFilter","params":[{}]}`, false}, // a filter lives on its node
	}
	for _, tt := range tests {
		c := call(t, tt.body)
		if got := c.ReadsHead(); got != tt.want {
			t.Errorf("%s: ReadsHead = %v, want %v", tt.body, got, tt.want)
		}
	}
	if c := call(t, `{"jsonrpc":"2.0","id":1,"method":"eth_getTransactionCount","params":["0xab","pending"]}`); !c.IsPending() {
		t.Error("IsPending is false for a pending nonce")
	}
}

func TestResultValue(t *testing.T) {
	for body, want := range map[string]string{
		`{"jsonrpc":"2.0","id":1,"result":"0x10"}`:   `"0x10"`,
		`{"result" : {"a":[1,2]},"id":1}`:            `{"a":[1,2]}`,
		`{"jsonrpc":"2.0","id":1,"result":"0x1`:      ``,
		`{"jsonrpc":"2.0","id":1,"result":null}`:     `null`,
		`{"id":1,"jsonrpc":"2.0","result":  "0xab"}`: `"0xab"`,
	} {
		var s ResponseScan
		if s.Scan([]byte(body), false) != Result {
			t.Fatalf("%s: not a result", body)
		}
		if got := string(s.ResultValue([]byte(body))); got != want {
			t.Errorf("%s: ResultValue = %q, want %q", body, got, want)
		}
	}
}

// BenchmarkCallNeed is what routing reads of a call for its need: the
// block, the state block and whether it reads the head.
func BenchmarkCallNeed(b *testing.B) {
	calls, _, _ := Parse([]byte(`{"jsonrpc":"2.0","id":1,"method":"eth_getBalance","params":["0x00000000219ab540356cbb839cbe05303d7705fa","latest"]}`))
	c := &calls[0]
	b.ReportAllocs()
	for b.Loop() {
		c.BlockNumber()
		c.StateBlock()
		c.ReadsHead()
	}
}
