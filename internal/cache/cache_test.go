package cache

import (
	"fmt"
	"strings"
	"testing"

	"github.com/evmgate/evmgate/internal/jsonrpc"
	"github.com/evmgate/evmgate/internal/upstream"
)

// testChain is a network's chain as probes would report it: id 0 is not
// known yet. Every node's finalized block is the network's, unless nodes
// lists them (a node not listed then has reported none).
type testChain struct {
	id, final uint64
	nodes     map[*upstream.Node]uint64
}

func (c testChain) ChainID() (uint64, bool)   { return c.id, c.id != 0 }
func (c testChain) Finalized() (uint64, bool) { return c.final, true }
func (c testChain) NodeFinalized(n *upstream.Node) (uint64, bool) {
	if c.nodes == nil {
		return c.final, true
	}
	v, ok := c.nodes[n]
	return v, ok
}

// fixed is a network on chain 1 whose finalized block is final.
func fixed(final uint64) testChain { return testChain{id: 1, final: final} }

// onChain is a node that reported chain id.
func onChain(id uint64) *upstream.Node {
	n := upstream.New(upstream.Spec{Name: fmt.Sprintf("on-%d", id), URL: "http://127.0.0.1:1"})
	n.SetChainID(id)
	return n
}

// node1 answers for chain 1.
var node1 = onChain(1)

func call(t testing.TB, body string) *jsonrpc.Call {
	t.Helper()
	calls, _, err := jsonrpc.Parse([]byte(body))
	if err != nil {
		t.Fatalf("parse %s: %v", body, err)
	}
	return &calls[0]
}

func TestKeyCanonical(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ name, a, b string }{
		{"whitespace", `[ "0x1" , true ]`, `["0x1",true]`},
		{"checksum address", `["0x00000000219AB540356cBB839Cbe05303d7705Fa","0x10"]`, `["0x00000000219ab540356cbb839cbe05303d7705fa","0x10"]`},
		{"upper X and digits", `["0XAB"]`, `["0xab"]`},
		{"newlines in object", "[{\n\"to\": \"0xAA\",\n \"data\":\"0x\"}, \"0x1\"]", `[{"to":"0xaa","data":"0x"},"0x1"]`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ka := string(appendKey(nil, "n", 1, "m", []byte(tc.a)))
			kb := string(appendKey(nil, "n", 1, "m", []byte(tc.b)))
			if ka != kb {
				t.Fatalf("keys differ: %q %q", ka, kb)
			}
		})
	}
	for _, tc := range []struct{ name, a, b string }{
		{"non-hex string case", `["Latest"]`, `["latest"]`},
		{"space inside a string", `["a b"]`, `["ab"]`},
		{"escaped quote", `["a\" b"]`, `["a\"b"]`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if string(appendKey(nil, "n", 1, "m", []byte(tc.a))) == string(appendKey(nil, "n", 1, "m", []byte(tc.b))) {
				t.Fatalf("%s and %s share a key", tc.a, tc.b)
			}
		})
	}
	if string(appendKey(nil, "a", 1, "m", nil)) == string(appendKey(nil, "b", 1, "m", nil)) {
		t.Fatal("networks share a key")
	}
}

func TestLookupRule(t *testing.T) {
	t.Parallel()
	const final = 100
	req := func(method, params string) string {
		return fmt.Sprintf(`{"jsonrpc":"2.0","id":1,"method":%q,"params":%s}`, method, params)
	}
	hash := `"0x` + fmt.Sprintf("%064x", 7) + `"`
	for _, tc := range []struct {
		name string
		body string
		rule rule
		read bool
	}{
		{"chain id", req("eth_chainId", `[]`), static, true},
		{"finalized block", req("eth_getBlockByNumber", `["0x64",false]`), atNumber, true},
		{"block past finalized", req("eth_getBlockByNumber", `["0x65",false]`), never, true},
		{"latest", req("eth_getBlockByNumber", `["latest",false]`), never, true},
		{"safe", req("eth_getBlockByNumber", `["safe",false]`), never, true},
		{"pending", req("eth_getBalance", `["0x00000000219ab540356cbb839cbe05303d7705fa","pending"]`), never, true},
		{"eip-1898 number", req("eth_call", `[{"to":"0x01"},{"blockNumber":"0x10"}]`), atNumber, true},
		{"eip-1898 hash", req("eth_call", `[{"to":"0x01"},{"blockHash":`+hash+`}]`), never, true},
		{"receipts by number", req("eth_getBlockReceipts", `["0x10"]`), atNumber, true},
		{"receipts by hash", req("eth_getBlockReceipts", `[`+hash+`]`), byHash, true},
		{"tx by hash", req("eth_getTransactionByHash", `[`+hash+`]`), byHash, true},
		{"logs range", req("eth_getLogs", `[{"fromBlock":"0x1","toBlock":"0x64"}]`), logRange, true},
		{"logs to latest", req("eth_getLogs", `[{"fromBlock":"0x1","toBlock":"latest"}]`), never, true},
		{"logs no toBlock", req("eth_getLogs", `[{"fromBlock":"0x1"}]`), never, true},
		{"logs past finalized", req("eth_getLogs", `[{"fromBlock":"0x1","toBlock":"0x65"}]`), never, true},
		{"logs by block hash", req("eth_getLogs", `[{"blockHash":`+hash+`,"fromBlock":"0x1","toBlock":"0x2"}]`), never, true},
		{"block number", req("eth_blockNumber", `[]`), never, true},
		{"send", req("eth_sendRawTransaction", `["0x01"]`), never, false},
		{"filter", req("eth_getFilterChanges", `["0x01"]`), never, false},
		{"subscribe", req("eth_subscribe", `["newHeads"]`), never, false},
		{"unknown", req("foo_bar", `[]`), never, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, read := lookupRule(call(t, tc.body), final, true)
			if p.rule != tc.rule || read != tc.read {
				t.Fatalf("rule %d read %v, want %d %v", p.rule, read, tc.rule, tc.read)
			}
		})
	}
	if p, _ := lookupRule(call(t, req("eth_getBlockByNumber", `["0x1",false]`)), 0, false); p.rule != never {
		t.Fatal("kept a by-number call while the finalized block is unknown")
	}
}

func TestKeepable(t *testing.T) {
	t.Parallel()
	const final = 100
	for _, tc := range []struct {
		name string
		p    policy
		resp string
		want bool
	}{
		{"result", policy{rule: atNumber}, `{"jsonrpc":"2.0","id":1,"result":"0x1"}`, true},
		{"empty logs", policy{rule: logRange}, `{"jsonrpc":"2.0","id":1,"result":[]}`, true},
		{"null", policy{rule: atNumber}, `{"jsonrpc":"2.0","id":1,"result":null}`, false},
		{"error", policy{rule: atNumber}, `{"jsonrpc":"2.0","id":1,"error":{"code":-32000,"message":"x"}}`, false},
		{"error null beside result", policy{rule: static}, `{"jsonrpc":"2.0","id":1,"error":null,"result":"0x1"}`, true},
		{"receipt finalized", policy{rule: byHash, field: "blockNumber"}, `{"id":1,"jsonrpc":"2.0","result":{"blockHash":"0xaa","blockNumber":"0x64"}}`, true},
		{"receipt not finalized", policy{rule: byHash, field: "blockNumber"}, `{"id":1,"jsonrpc":"2.0","result":{"blockNumber":"0x65"}}`, false},
		{"pending tx", policy{rule: byHash, field: "blockNumber"}, `{"id":1,"jsonrpc":"2.0","result":{"blockNumber":null}}`, false},
		{"not mined", policy{rule: byHash, field: "blockNumber"}, `{"id":1,"jsonrpc":"2.0","result":null}`, false},
		{"block finalized", policy{rule: byHash, field: "number"}, `{"id":1,"jsonrpc":"2.0","result":{"number":"0x1"}}`, true},
		{"block receipts", policy{rule: byHash, field: "blockNumber"}, `{"id":1,"jsonrpc":"2.0","result":[{"blockNumber":"0x2"},{"blockNumber":"0x2"}]}`, true},
		{"block receipts empty", policy{rule: byHash, field: "blockNumber"}, `{"id":1,"jsonrpc":"2.0","result":[]}`, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := keepable(tc.p, []byte(tc.resp), final, true); got != tc.want {
				t.Fatalf("keepable = %v, want %v", got, tc.want)
			}
		})
	}
}

func newStore(t testing.TB, maxBytes uint64) *Store {
	t.Helper()
	s, err := New(Config{MaxBytes: maxBytes, MaxItemBytes: 64 << 10, Dedup: true}, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return s
}

// TestGetSplicesID: a hit is the node's bytes with the client's id in place
// of the id the node saw, whatever its type.
func TestGetSplicesID(t *testing.T) {
	t.Parallel()
	n := newStore(t, 1<<20).Network("main", fixed(100))
	c := call(t, `{"jsonrpc":"2.0","id":1,"method":"eth_getBlockByNumber","params":["0x5",false]}`)
	cc := n.Prepare(c)
	resp := `{"jsonrpc":"2.0", "id" : 1 ,"result":{"number":"0x5","hash":"0xAB"}}`
	if !n.Put(&cc, []byte(resp), node1) {
		t.Fatal("answer not kept")
	}
	for _, id := range []string{`1`, `"x-7"`, `null`, `123456789012345678901234567890`} {
		c2 := call(t, `{"jsonrpc":"2.0","id":`+id+`,"method":"eth_getBlockByNumber","params":[ "0x5", false ]}`)
		cc2 := n.Prepare(c2)
		got, ok := n.Get(&cc2, c2.ID, nil)
		want := `{"jsonrpc":"2.0", "id" : ` + id + ` ,"result":{"number":"0x5","hash":"0xAB"}}`
		if !ok || string(got) != want {
			t.Fatalf("id %s: got %q (%v), want %q", id, got, ok, want)
		}
	}
	other := newStore(t, 1<<20).Network("other", fixed(100))
	cc3 := other.Prepare(c)
	if _, ok := other.Get(&cc3, c.ID, nil); ok {
		t.Fatal("another network's store answered")
	}
}

// TestBoundedBytes: the store stays under max_bytes and counts evictions.
func TestBoundedBytes(t *testing.T) {
	t.Parallel()
	s := newStore(t, 64<<10)
	n := s.Network("main", fixed(1<<20))
	big := make([]byte, 1000)
	for i := range big {
		big[i] = 'a'
	}
	for i := range 1000 {
		c := call(t, fmt.Sprintf(`{"jsonrpc":"2.0","id":1,"method":"eth_getBlockByNumber","params":["0x%x",false]}`, i))
		cc := n.Prepare(c)
		n.Put(&cc, fmt.Appendf(nil, `{"jsonrpc":"2.0","id":1,"result":"%s"}`, big), node1)
	}
	s.c.CleanUp()
	if got := s.Bytes(); got > 64<<10 {
		t.Fatalf("store holds %d bytes, over its 65536", got)
	}
	if s.Len() == 0 || s.Len() >= 1000 {
		t.Fatalf("store holds %d entries", s.Len())
	}
}

func TestSettings(t *testing.T) {
	t.Parallel()
	var s Settings
	s.Default()
	if !*s.Enabled || !*s.Dedup || s.MaxBytes != DefaultMaxBytes || s.MaxItemBytes != DefaultMaxItemBytes {
		t.Fatalf("defaults: %+v", s)
	}
	if err := s.Validate(); err != nil {
		t.Fatal(err)
	}
	s.MaxBytes, s.MaxItemBytes = 1000, 10
	err := s.Validate()
	if err == nil {
		t.Fatal("tiny sizes passed")
	}
	for _, key := range []string{"cache.max_bytes", "cache.max_item_bytes"} {
		if !strings.Contains(err.Error(), key) {
			t.Fatalf("error %q does not name %s", err, key)
		}
	}
}
