package jsonrpc

import (
	"strings"
	"testing"
)

const blockNumberCall = `{"jsonrpc":"2.0","id":1,"method":"eth_blockNumber","params":[]}`

// wantCall is what a test expects of one parsed call; nil fields are not
// checked except ID, which is always compared ("" means nil).
type wantCall struct {
	raw    string
	id     string
	method string
	params string
	code   int // 0: no error
	notify bool
}

func checkCall(t *testing.T, i int, got Call, want wantCall) {
	t.Helper()
	if want.raw != "" && string(got.Raw) != want.raw {
		t.Errorf("call %d: Raw = %s, want %s", i, got.Raw, want.raw)
	}
	if (want.id == "") != (got.ID == nil) || string(got.ID) != want.id {
		t.Errorf("call %d: ID = %q (nil %v), want %q", i, got.ID, got.ID == nil, want.id)
	}
	if got.Method != want.method {
		t.Errorf("call %d: Method = %q, want %q", i, got.Method, want.method)
	}
	if string(got.Params) != want.params {
		t.Errorf("call %d: Params = %s, want %s", i, got.Params, want.params)
	}
	switch {
	case want.code == 0 && got.Err != nil:
		t.Errorf("call %d: unexpected error %v", i, got.Err)
	case want.code != 0 && (got.Err == nil || got.Err.Code != want.code):
		t.Errorf("call %d: error %v, want code %d", i, got.Err, want.code)
	}
	if got.IsNotification() != want.notify {
		t.Errorf("call %d: IsNotification = %v, want %v", i, got.IsNotification(), want.notify)
	}
}

func TestParseSingle(t *testing.T) {
	call := func(id string) string {
		return `{"jsonrpc":"2.0","id":` + id + `,"method":"eth_chainId"}`
	}
	tests := []struct {
		name string
		body string
		want wantCall
	}{
		{"basic", blockNumberCall, wantCall{raw: blockNumberCall, id: "1", method: "eth_blockNumber", params: "[]"}},
		{"whitespace around and inside", " \r\n\t{ \"jsonrpc\" : \"2.0\" ,\n \"method\" :\t\"eth_chainId\" , \"id\" : 7 }\n ",
			wantCall{raw: "{ \"jsonrpc\" : \"2.0\" ,\n \"method\" :\t\"eth_chainId\" , \"id\" : 7 }", id: "7", method: "eth_chainId"}},
		{"members in any order", `{"params":["0x1",true],"method":"eth_getBlockByNumber","id":"a","jsonrpc":"2.0"}`,
			wantCall{id: `"a"`, method: "eth_getBlockByNumber", params: `["0x1",true]`}},
		{"notification", `{"jsonrpc":"2.0","method":"eth_chainId"}`, wantCall{method: "eth_chainId", notify: true}},
		{"id zero", call("0"), wantCall{id: "0", method: "eth_chainId"}},
		{"id negative", call("-12"), wantCall{id: "-12", method: "eth_chainId"}},
		{"id fraction", call("1.50"), wantCall{id: "1.50", method: "eth_chainId"}},
		{"id exponent", call("1E+3"), wantCall{id: "1E+3", method: "eth_chainId"}},
		{"id beyond uint64", call("123456789012345678901234567890"), wantCall{id: "123456789012345678901234567890", method: "eth_chainId"}},
		{"id string", call(`"req-1"`), wantCall{id: `"req-1"`, method: "eth_chainId"}},
		{"id empty string", call(`""`), wantCall{id: `""`, method: "eth_chainId"}},
		{"id with escapes", call(`"a\"b\\c\u00e9\n"`), wantCall{id: `"a\"b\\c\u00e9\n"`, method: "eth_chainId"}},
		{"id unicode", call(`"日本"`), wantCall{id: `"日本"`, method: "eth_chainId"}},
		{"id null", call("null"), wantCall{id: "null", method: "eth_chainId"}},
		{"nested params", `{"jsonrpc":"2.0","id":1,"method":"eth_call","params":[{"to":"0x1","data":"0x","x":{"y":[1,[2,{"z":null}]]}},"latest",{"0x2":{"balance":"0x1"}}]}`,
			wantCall{id: "1", method: "eth_call", params: `[{"to":"0x1","data":"0x","x":{"y":[1,[2,{"z":null}]]}},"latest",{"0x2":{"balance":"0x1"}}]`}},
		{"named params", `{"jsonrpc":"2.0","id":1,"method":"m","params":{"a":1}}`, wantCall{id: "1", method: "m", params: `{"a":1}`}},
		{"null params are no params", `{"jsonrpc":"2.0","id":1,"method":"eth_chainId","params":null}`, wantCall{id: "1", method: "eth_chainId"}},
		{"escapes in params", `{"jsonrpc":"2.0","id":1,"method":"web3_sha3","params":["\"]}\\\/\b\f\n\r\t\u0041"]}`,
			wantCall{id: "1", method: "web3_sha3", params: `["\"]}\\\/\b\f\n\r\t\u0041"]`}},
		{"escaped method", `{"jsonrpc":"2.0","id":1,"method":"eth_\u0062lockNumber"}`, wantCall{id: "1", method: "eth_blockNumber"}},
		{"unknown method", `{"jsonrpc":"2.0","id":1,"method":"foo_bar"}`, wantCall{id: "1", method: "foo_bar"}},
		{"extra members", `{"jsonrpc":"2.0","id":1,"method":"eth_chainId","x":[{}]}`, wantCall{id: "1", method: "eth_chainId"}},
		{"duplicate id: last wins", `{"jsonrpc":"2.0","id":1,"id":2,"method":"eth_chainId"}`, wantCall{id: "2", method: "eth_chainId"}},
		// Members a node may read otherwise than the gateway are refused.
		{"escaped member name", `{"jsonrpc":"2.0","id":1,"method":"eth_gasPrice","\u006dethod":"engine_exchangeCapabilities"}`, wantCall{id: "1", code: CodeInvalidRequest}},
		{"escaped params name", `{"jsonrpc":"2.0","id":1,"method":"m","params":["0x15"],"\u0070arams":["0x14"]}`, wantCall{id: "1", params: `["0x15"]`, code: CodeInvalidRequest}},
		{"member in other case", `{"jsonrpc":"2.0","id":1,"method":"eth_gasPrice","Method":"admin_peers"}`, wantCall{id: "1", code: CodeInvalidRequest}},
		{"member with a folding letter", `{"jsonrpc":"2.0","id":1,"method":"m","params":[],"paramſ":["x"]}`, wantCall{id: "1", params: `[]`, code: CodeInvalidRequest}},
		{"id in other case", `{"jsonrpc":"2.0","ID":1,"method":"eth_chainId"}`, wantCall{code: CodeInvalidRequest}},
		{"method twice", `{"jsonrpc":"2.0","id":1,"method":"eth_gasPrice","method":"admin_peers"}`, wantCall{id: "1", code: CodeInvalidRequest}},
		{"escaped version value", `{"jsonrpc":"\u0032.0","id":1,"method":"eth_chainId"}`, wantCall{id: "1", code: CodeInvalidRequest}},
		{"filter member in other case", `{"jsonrpc":"2.0","id":1,"method":"eth_getLogs","params":[{"FromBlock":"0x0","toBlock":"latest"}]}`,
			wantCall{id: "1", params: `[{"FromBlock":"0x0","toBlock":"latest"}]`, code: CodeInvalidParams}},
		{"filter member twice", `{"jsonrpc":"2.0","id":1,"method":"eth_getLogs","params":[{"fromBlock":"latest","fromBlock":"0x0"}]}`,
			wantCall{id: "1", params: `[{"fromBlock":"latest","fromBlock":"0x0"}]`, code: CodeInvalidParams}},
		{"escaped block number", `{"jsonrpc":"2.0","id":1,"method":"eth_getLogs","params":[{"fromBlock":"\u0030x0"}]}`,
			wantCall{id: "1", params: `[{"fromBlock":"\u0030x0"}]`, code: CodeInvalidParams}},
		{"block reference in other case", `{"jsonrpc":"2.0","id":1,"method":"eth_getBalance","params":["0x1",{"BlockNumber":"0x1"}]}`,
			wantCall{id: "1", params: `["0x1",{"BlockNumber":"0x1"}]`, code: CodeInvalidParams}},
		{"other objects keep their escapes", `{"jsonrpc":"2.0","id":1,"method":"debug_traceCall","params":[{"to":"0x1"},"latest",{"tracer":"{step: function() { return \"x\" }}"}]}`,
			wantCall{id: "1", method: "debug_traceCall", params: `[{"to":"0x1"},"latest",{"tracer":"{step: function() { return \"x\" }}"}]`}},
		// Invalid requests keep a valid id so the answer can carry it.
		{"no version", `{"id":3,"method":"eth_chainId"}`, wantCall{id: "3", code: CodeInvalidRequest}},
		{"wrong version", `{"jsonrpc":"1.0","id":3,"method":"eth_chainId"}`, wantCall{id: "3", code: CodeInvalidRequest}},
		{"version not a string", `{"jsonrpc":2.0,"id":3,"method":"eth_chainId"}`, wantCall{id: "3", code: CodeInvalidRequest}},
		{"no method", `{"jsonrpc":"2.0","id":3}`, wantCall{id: "3", code: CodeInvalidRequest}},
		{"method not a string", `{"jsonrpc":"2.0","id":3,"method":5}`, wantCall{id: "3", code: CodeInvalidRequest}},
		{"params a string", `{"jsonrpc":"2.0","id":3,"method":"m","params":"x"}`, wantCall{id: "3", params: `"x"`, code: CodeInvalidRequest}},
		{"id true", call("true"), wantCall{code: CodeInvalidRequest}},
		{"id object", call(`{"a":1}`), wantCall{code: CodeInvalidRequest}},
		{"id array", call("[1]"), wantCall{code: CodeInvalidRequest}},
		{"number", `42`, wantCall{raw: "42", code: CodeInvalidRequest}},
		{"string", `"eth_chainId"`, wantCall{code: CodeInvalidRequest}},
		{"null", `null`, wantCall{code: CodeInvalidRequest}},
		{"empty object", `{}`, wantCall{code: CodeInvalidRequest}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			calls, batch, err := Parse([]byte(tt.body))
			if batch {
				t.Error("batch = true")
			}
			if len(calls) != 1 {
				t.Fatalf("got %d calls (err %v)", len(calls), err)
			}
			if (err != nil) != (tt.want.code != 0) || (err != nil && err != calls[0].Err) {
				t.Errorf("err = %v, call error %v", err, calls[0].Err)
			}
			checkCall(t, 0, calls[0], tt.want)
		})
	}
}

func TestParseBatch(t *testing.T) {
	body := "[\n " + blockNumberCall + " ,\n" +
		`{"jsonrpc":"2.0","method":"eth_chainId"},` +
		`1,` +
		`{"jsonrpc":"2.0","id":"x","method":"eth_getBalance","params":["0xa", "latest"]},` +
		`{"jsonrpc":"2.0","id":false,"method":"m"},` +
		`{"jsonrpc":"1.0","id":9,"method":"m"},` +
		`[],` +
		`{"id":{"a":1},"method":"m"}` + "\n]"
	calls, batch, err := Parse([]byte(body))
	if err != nil || !batch {
		t.Fatalf("err %v batch %v", err, batch)
	}
	want := []wantCall{
		{raw: blockNumberCall, id: "1", method: "eth_blockNumber", params: "[]"},
		{raw: `{"jsonrpc":"2.0","method":"eth_chainId"}`, method: "eth_chainId", notify: true},
		{raw: "1", code: CodeInvalidRequest},
		{id: `"x"`, method: "eth_getBalance", params: `["0xa", "latest"]`},
		{raw: `{"jsonrpc":"2.0","id":false,"method":"m"}`, code: CodeInvalidRequest},
		{id: "9", code: CodeInvalidRequest},
		{raw: "[]", code: CodeInvalidRequest},
		{code: CodeInvalidRequest},
	}
	if len(calls) != len(want) {
		t.Fatalf("got %d calls, want %d", len(calls), len(want))
	}
	for i := range want {
		checkCall(t, i, calls[i], want[i])
	}
}

func TestParseBatchOfOne(t *testing.T) {
	calls, batch, err := Parse([]byte("[" + blockNumberCall + "]"))
	if err != nil || !batch || len(calls) != 1 || string(calls[0].Raw) != blockNumberCall {
		t.Fatalf("calls %v batch %v err %v", calls, batch, err)
	}
}

// TestParseErrors: whole-request errors and their codes.
func TestParseErrors(t *testing.T) {
	tests := []struct {
		name string
		body string
		code int
	}{
		{"empty", "", CodeParseError},
		{"only whitespace", " \n\t", CodeParseError},
		{"truncated object", `{"jsonrpc":"2.0",`, CodeParseError},
		{"truncated string", `{"jsonrpc":"2.0`, CodeParseError},
		{"truncated batch", `[` + blockNumberCall, CodeParseError},
		{"trailing comma in object", `{"jsonrpc":"2.0","method":"m",}`, CodeParseError},
		{"trailing comma in batch", `[` + blockNumberCall + `,]`, CodeParseError},
		{"missing comma", `[1 2]`, CodeParseError},
		{"value after scalar", `[1{}]`, CodeParseError},
		{"garbage after", blockNumberCall + ` x`, CodeParseError},
		{"two objects", blockNumberCall + blockNumberCall, CodeParseError},
		{"mismatched brackets", `[{]}`, CodeParseError},
		{"unquoted key", `{jsonrpc:"2.0"}`, CodeParseError},
		{"single quotes", `{'jsonrpc':'2.0'}`, CodeParseError},
		{"leading zero", `{"jsonrpc":"2.0","id":01,"method":"m"}`, CodeParseError},
		{"bare minus", `{"id":-}`, CodeParseError},
		{"dot without digits", `{"id":1.}`, CodeParseError},
		{"leading dot", `{"id":.5}`, CodeParseError},
		{"exponent without digits", `{"id":1e}`, CodeParseError},
		{"plus sign", `{"id":+1}`, CodeParseError},
		{"hex number", `{"id":0x1}`, CodeParseError},
		{"NaN", `{"id":NaN}`, CodeParseError},
		{"bad literal", `{"id":tru}`, CodeParseError},
		{"capital literal", `{"id":True}`, CodeParseError},
		{"bad escape", `{"id":"\x41"}`, CodeParseError},
		{"short unicode escape", `{"id":"\u12"}`, CodeParseError},
		{"non-hex unicode escape", `{"id":"\u12g4"}`, CodeParseError},
		{"control character in string", "{\"id\":\"a\nb\"}", CodeParseError},
		{"comment", `{"id":1 /* x */}`, CodeParseError},
		{"byte order mark", "\xef\xbb\xbf" + blockNumberCall, CodeParseError},
		{"empty batch", `[]`, CodeInvalidRequest},
		{"empty batch with space", "[ \n ]", CodeInvalidRequest},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			calls, _, err := Parse([]byte(tt.body))
			if err == nil || err.Code != tt.code {
				t.Fatalf("err = %v, want code %d", err, tt.code)
			}
			if tt.code == CodeParseError && calls != nil {
				t.Errorf("calls returned with a parse error: %v", calls)
			}
		})
	}
}

// TestParseDepth: nesting up to MaxDepth is parsed; deeper valid JSON is an
// invalid request, deeper invalid JSON still a parse error.
func TestParseDepth(t *testing.T) {
	// The call object is level 1 and params level 2, so MaxDepth-2 more.
	nested := func(levels int) string {
		return strings.Repeat("[", levels) + strings.Repeat("]", levels)
	}
	body := func(levels int) string {
		return `{"jsonrpc":"2.0","id":1,"method":"m","params":[` + nested(levels) + `]}`
	}
	calls, _, err := Parse([]byte(body(MaxDepth - 2)))
	if err != nil || calls[0].Err != nil {
		t.Fatalf("at the limit: %v", err)
	}
	_, _, err = Parse([]byte(body(MaxDepth - 1)))
	if err == nil || err.Code != CodeInvalidRequest || !strings.Contains(err.Message, "nested deeper than 64") {
		t.Fatalf("over the limit: %v", err)
	}
	_, _, err = Parse([]byte("[" + body(MaxDepth-2) + "]"))
	if err == nil || err.Code != CodeInvalidRequest {
		t.Fatalf("batch over the limit: %v", err)
	}
	_, _, err = Parse([]byte(strings.Repeat("[", 100000)))
	if err == nil || err.Code != CodeParseError {
		t.Fatalf("deep and unterminated: %v", err)
	}
	_, _, err = Parse([]byte(strings.Repeat("[", 100) + "x" + strings.Repeat("]", 100)))
	if err == nil || err.Code != CodeParseError {
		t.Fatalf("deep and invalid: %v", err)
	}
}

// TestParseKeepsBytes: Raw, ID and Params alias the body: nothing is copied
// or re-encoded.
func TestParseKeepsBytes(t *testing.T) {
	body := []byte(`[{"jsonrpc":"2.0","id":"abc","method":"eth_call","params":[{"data":"0x00"},"latest"]}]`)
	calls, _, err := Parse(body)
	if err != nil {
		t.Fatal(err)
	}
	c := calls[0]
	if &c.Raw[0] != &body[1] || &c.ID[0] != &body[strings.Index(string(body), `"abc"`)] ||
		&c.Params[0] != &body[strings.Index(string(body), `[{"data"`)] {
		t.Error("Raw, ID or Params do not point into the body")
	}
}
