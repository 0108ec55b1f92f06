package jsonrpc

import (
	"bytes"
	"encoding/json"
	"io"
	"strconv"
	"testing"
	"unicode/utf8"
)

var fuzzSeeds = []string{
	`{"jsonrpc":"2.0","id":1,"method":"a","\u006dethod":"b"}`, `{"jsonrpc":"2.0","id":1,"method":"a","METHOD":"b","Params":[]}`,
	blockNumberCall,
	`[` + blockNumberCall + `,{"jsonrpc":"2.0","method":"eth_chainId"},1,[]]`,
	`{"jsonrpc":"2.0","id":"a\"b\u00e9","method":"eth_\u0063all","params":[{"to":"0x1"},{"blockNumber":"0x5"}]}`,
	`{"jsonrpc":"2.0","id":-1.5e+3,"method":"m","params":null}`,
	`[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]`,
	` [ ] `, `01`, `{"a":1,}`, `"\x"`, `{"id":tru}`, "\"\x00\"", `1e`, `-`, `{"a" 1}`,
	"\"\xff\xfe\"",
}

// FuzzParse: Parse never panics; it reports -32700 exactly when
// encoding/json finds the body invalid; every call of a valid body is valid
// JSON, and what Parse reads from it agrees with encoding/json.
func FuzzParse(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		calls, batch, err := Parse(body)
		if !json.Valid(body) {
			if err == nil || err.Code != CodeParseError {
				t.Fatalf("invalid JSON %q: got err %v, want code %d", body, err, CodeParseError)
			}
			return
		}
		if err != nil && err.Code == CodeParseError {
			t.Fatalf("valid JSON %q: got parse error %v", body, err)
		}
		if batch != (bytes.TrimLeft(body, " \t\r\n")[0] == '[') {
			t.Fatalf("batch = %v for %q", batch, body)
		}
		if !batch && err == nil && !bytes.Equal(calls[0].Raw, bytes.Trim(body, " \t\r\n")) {
			t.Fatalf("single call Raw %q != body %q", calls[0].Raw, body)
		}
		for _, c := range calls {
			checkAgainstStdlib(t, c)
		}
	})
}

// checkAgainstStdlib compares a parsed call with encoding/json's reading of
// its raw bytes.
func checkAgainstStdlib(t *testing.T, c Call) {
	t.Helper()
	if !json.Valid(c.Raw) {
		t.Fatalf("call Raw %q is not valid JSON", c.Raw)
	}
	var m map[string]json.RawMessage
	if json.Unmarshal(c.Raw, &m) != nil {
		if c.Err == nil {
			t.Fatalf("non-object %q accepted as a call", c.Raw)
		}
		return
	}
	if c.Err != nil {
		return
	}
	if id, ok := m["id"]; ok != (c.ID != nil) || ok && !bytes.Equal(id, c.ID) {
		t.Fatalf("%q: ID %q, encoding/json reads %q", c.Raw, c.ID, id)
	}
	if p := m["params"]; string(p) != "null" && !bytes.Equal(p, c.Params) {
		t.Fatalf("%q: Params %q, encoding/json reads %q", c.Raw, c.Params, p)
	}
	var method string
	if json.Unmarshal(m["method"], &method) != nil {
		t.Fatalf("%q: accepted a method that is not a string", c.Raw)
	}
	if utf8.Valid(m["method"]) && method != c.Method {
		t.Fatalf("%q: Method %q, encoding/json reads %q", c.Raw, c.Method, method)
	}
	if string(m["jsonrpc"]) != `"2.0"` {
		t.Fatalf("%q: accepted jsonrpc %s", c.Raw, m["jsonrpc"])
	}
	// A node that reads the call into a struct, as go-ethereum does
	// (member names in any letter case, the last of two), reads the same
	// call: the gateway routes and caches what the node answers.
	var node struct {
		ID     json.RawMessage `json:"id"`
		Method string          `json:"method"`
		Params json.RawMessage `json:"params"`
	}
	if json.Unmarshal(c.Raw, &node) == nil && utf8.Valid(c.Raw) {
		if node.Method != c.Method || string(node.Params) != "null" && !bytes.Equal(node.Params, c.Params) {
			t.Fatalf("%q: method %q params %q, a node reads %q %q", c.Raw, c.Method, c.Params, node.Method, node.Params)
		}
	}
}

// FuzzScanResponse: ScanResponse never panics; once a prefix decides, every
// longer prefix decides the same; on a whole valid object it finds the
// first result or non-null error member, as encoding/json reads them (an
// object with only a null error is a Failure: the node's odd answer goes
// to the client, it is not a broken one).
func FuzzScanResponse(f *testing.F) {
	for _, s := range []string{
		`{"jsonrpc":"2.0","id":1,"result":"0x1"}`,
		`{"jsonrpc":"2.0","id":1,"error":{"code":-32000,"message":"header not found"}}`,
		`{"id":1,"error":null,"result":[]}`, `{"id":1}`, `<html>`, `{"id":1,,}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, resp []byte) {
		final := ScanResponse(resp)
		decided := NeedMore
		for k := 0; k <= len(resp); k++ {
			o := ScanResponse(resp[:k])
			if decided != NeedMore && o != decided {
				t.Fatalf("%q: prefix of %d bytes gives %v after %v", resp, k, o, decided)
			}
			decided = o
		}
		if final != decided {
			t.Fatalf("%q: %v then %v", resp, decided, final)
		}
		if want, ok := firstOutcome(resp); ok && final != want {
			t.Fatalf("%q: got %v, want %v", resp, final, want)
		}
	})
}

// firstOutcome reads a whole JSON object member by member with
// encoding/json. ok is false when resp is not a JSON object.
func firstOutcome(resp []byte) (Outcome, bool) {
	if !json.Valid(resp) {
		return 0, false
	}
	dec := json.NewDecoder(bytes.NewReader(resp))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return 0, false
	}
	nullError := false
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return 0, false
		}
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return 0, false
		}
		switch {
		case tok == "result":
			return Result, true
		case tok == "error" && string(v) != "null":
			return Failure, true
		case tok == "error":
			nullError = true
		}
	}
	if _, err := dec.Token(); err != nil && err != io.EOF {
		return 0, false
	}
	if nullError {
		return Failure, true
	}
	return Malformed, true
}

// FuzzSplitBatch: SplitBatch never panics; on a valid JSON array it finds
// the elements encoding/json finds, each element's bytes are that element,
// and an object's id and error are the ones encoding/json reads.
func FuzzSplitBatch(f *testing.F) {
	for _, s := range []string{
		`[{"jsonrpc":"2.0","id":1,"result":"0x1"},{"jsonrpc":"2.0","id":2,"error":{"code":-32000,"message":"m"}}]`,
		`[]`, ` [ 1 , "a" , null , [ ] ] `, `[{"id":"x\"y"},{}]`, `[{"id":1,"id":2}]`, `[1,]`, `[`, `{}`,
		`[{"error":{"code":1.5,"message":"m"},"id":null}]`, "[\"\xff\"]",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, resp []byte) {
		els, err := SplitBatch(resp)
		var want []json.RawMessage
		if a := bytes.TrimSpace(resp); len(a) == 0 || a[0] != '[' || json.Unmarshal(resp, &want) != nil {
			return // not an array (null decodes as one): SplitBatch may refuse or split what it can
		}
		if err != nil {
			t.Fatalf("%q: valid array refused: %v", resp, err)
		}
		if len(els) != len(want) {
			t.Fatalf("%q: %d elements, encoding/json finds %d", resp, len(els), len(want))
		}
		for i, el := range els {
			if !bytes.Equal(el.Raw, bytes.TrimSpace(want[i])) {
				t.Fatalf("%q: element %d is %q, encoding/json reads %q", resp, i, el.Raw, want[i])
			}
			checkElement(t, el)
		}
	})
}

// checkElement compares an object element's id and error with encoding/json.
func checkElement(t *testing.T, el Element) {
	t.Helper()
	var m map[string]json.RawMessage
	if json.Unmarshal(el.Raw, &m) != nil || bytes.Count(el.Raw, []byte(`"id"`)) != 1 {
		return // not an object, or a repeated or escaped key: who wins is not specified
	}
	if id, ok := m["id"]; ok && !bytes.Equal(id, el.ID) {
		t.Fatalf("%q: id %q, encoding/json reads %q", el.Raw, el.ID, id)
	}
}

// FuzzErrorResponse: a gateway error's answer is the bytes encoding/json
// makes of it, whatever its message.
func FuzzErrorResponse(f *testing.F) {
	for _, s := range []string{"plain", `quote " and \ slash`, "<html> & co", "tab\tnew\nline", "é ü \u2028", "\xff\xfe", ""} {
		f.Add(-32000, s, 3)
	}
	f.Fuzz(func(t *testing.T, code int, msg string, retry int) {
		for _, data := range []any{nil, json.RawMessage(`{"retry_after_seconds":` + strconv.Itoa(retry) + `}`), map[string]any{"n": retry}} {
			e := &Error{Code: code, Message: msg, Data: data}
			body, err := json.Marshal(e)
			if err != nil {
				t.Fatal(err)
			}
			want := `{"jsonrpc":"2.0","id":7,"error":` + string(body) + `}`
			if got := string(e.AppendResponse(nil, []byte("7"))); got != want {
				t.Fatalf("AppendResponse = %s, want %s", got, want)
			}
		}
	})
}
