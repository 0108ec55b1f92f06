package jsonrpc

import (
	"strings"
	"testing"
)

// TestScanResponsePrefixes cuts each response at every byte: prefixes are
// NeedMore until the deciding byte, and every longer prefix gives the
// final outcome.
func TestScanResponsePrefixes(t *testing.T) {
	tests := []struct {
		name   string
		resp   string
		decide string // the prefix up to and including this marker decides
		want   Outcome
	}{
		{"result", `{"jsonrpc":"2.0","id":1,"result":"0x10d4f"}`, `"result"`, Result},
		{"result first", `{"result":{"number":"0x1","transactions":[]},"id":"a","jsonrpc":"2.0"}`, `"result"`, Result},
		{"null result", ` {"jsonrpc": "2.0", "id": 12345, "result": null}`, `"result"`, Result},
		{"long id before result", `{"jsonrpc":"2.0","id":{"deep":[1,2,{"x":"}\"]"}]},"result":[]}`, `"result"`, Result},
		{"error", `{"jsonrpc":"2.0","id":1,"error":{"code":-32000,"message":"header not found"}}`, `"error":{`, Failure},
		{"error with spaces", "{\n  \"id\": 1,\n  \"error\" :\n  {\"code\":3,\"message\":\"execution reverted\",\"data\":\"0x08c3\"}}", "\"error\" :\n  {", Failure},
		{"null error then result", `{"jsonrpc":"2.0","id":1,"error":null,"result":"0x1"}`, `"result"`, Result},
		{"no result nor error", `{"jsonrpc":"2.0","id":1}`, `}`, Malformed},
		{"html", `<html>502 Bad Gateway</html>`, `<`, Malformed},
		{"array", `[{"jsonrpc":"2.0","id":1,"result":"0x1"}]`, `[`, Malformed},
		{"double comma", `{"id":1,,"result":1}`, `,,`, Malformed},
		{"key not a string", `{"id":1,result:1}`, `,r`, Malformed},
		{"missing colon", `{"id" 1,"result":1}`, `"id" 1`, Malformed},
		{"bad value", `{"id":nul,"result":1}`, `nul,`, Malformed},
		{"bad escape in key", `{"i\d":1,"result":1}`, `\d`, Malformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			at := strings.Index(tt.resp, tt.decide)
			if at < 0 {
				t.Fatalf("marker %q not in response", tt.decide)
			}
			at += len(tt.decide)
			for k := 0; k <= len(tt.resp); k++ {
				want := NeedMore
				if k >= at {
					want = tt.want
				}
				if got := ScanResponse([]byte(tt.resp[:k])); got != want {
					t.Fatalf("prefix %q: got %v, want %v", tt.resp[:k], got, want)
				}
			}
		})
	}
}

func TestSplitBatch(t *testing.T) {
	resp := " [\n" +
		`{"jsonrpc":"2.0","id":1,"result":"0x1"},` +
		`{"jsonrpc":"2.0","id":"b","error":{"code":-32000,"message":"header not found"}} , ` +
		`{"jsonrpc":"2.0","id":null,"error":{"code":-32600,"message":"invalid request"}},` +
		`5,` +
		`{"jsonrpc":"2.0","result":{"a":[1,{"id":9}]},"id":3}` + "\n] "
	els, err := SplitBatch([]byte(resp))
	if err != nil {
		t.Fatal(err)
	}
	want := []struct {
		raw, id string
		code    int
	}{
		{`{"jsonrpc":"2.0","id":1,"result":"0x1"}`, "1", 0},
		{`{"jsonrpc":"2.0","id":"b","error":{"code":-32000,"message":"header not found"}}`, `"b"`, -32000},
		{`{"jsonrpc":"2.0","id":null,"error":{"code":-32600,"message":"invalid request"}}`, "null", -32600},
		{`5`, "", 0},
		{`{"jsonrpc":"2.0","result":{"a":[1,{"id":9}]},"id":3}`, "3", 0},
	}
	if len(els) != len(want) {
		t.Fatalf("got %d elements, want %d", len(els), len(want))
	}
	for i, w := range want {
		e := els[i]
		if string(e.Raw) != w.raw || string(e.ID) != w.id {
			t.Errorf("element %d: raw %s id %s", i, e.Raw, e.ID)
		}
		if (w.code == 0) != (e.Err == nil) || (e.Err != nil && e.Err.Code != w.code) {
			t.Errorf("element %d: error %+v, want code %d", i, e.Err, w.code)
		}
	}
	if els[1].Err.Message != "header not found" {
		t.Errorf("message %q", els[1].Err.Message)
	}

	for _, bad := range []string{``, `{"id":1,"result":1}`, `[`, `[{"id":1}`, `[1,]`, `[1 2]`, `x`} {
		if _, err := SplitBatch([]byte(bad)); err == nil {
			t.Errorf("SplitBatch(%q) succeeded", bad)
		}
	}
	if els, err := SplitBatch([]byte(" [ ] ")); err != nil || len(els) != 0 {
		t.Errorf("empty batch: %v %v", els, err)
	}
}

func TestErrorOf(t *testing.T) {
	tests := []struct {
		name    string
		resp    string
		code    int
		message string
		raw     string // "" means no error expected
	}{
		{"result", `{"jsonrpc":"2.0","id":1,"result":"0x1"}`, 0, "", ""},
		{"error", `{"jsonrpc":"2.0","id":1,"error":{"code":-32000,"message":"header not found"}}`,
			-32000, "header not found", `{"code":-32000,"message":"header not found"}`},
		{"data and escapes kept raw", ` {"id":1,"error":{"message":"execution reverted: \"no\"","code":3,"data":"0x08c379a0"}} `,
			3, `execution reverted: "no"`, `{"message":"execution reverted: \"no\"","code":3,"data":"0x08c379a0"}`},
		{"null error", `{"id":1,"error":null,"result":1}`, 0, "", ""},
		{"error not an object", `{"id":1,"error":"boom"}`, 0, "", ""},
		{"not JSON", `<html>`, 0, "", ""},
		{"array", `[{"error":{"code":1,"message":"x"}}]`, 0, "", ""},
		{"empty", ``, 0, "", ""},
		{"truncated", `{"id":1,"error":{"code":1,"message":"x"}`, 0, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := ErrorOf([]byte(tt.resp))
			if tt.raw == "" {
				if e != nil {
					t.Fatalf("got %+v, want nil", e)
				}
				return
			}
			if e == nil || e.Code != tt.code || e.Message != tt.message || string(e.Raw) != tt.raw || e.Error() != tt.message {
				t.Fatalf("got %+v", e)
			}
		})
	}
}

func TestAppendResponse(t *testing.T) {
	e := NewError(CodeNoNodes, `no node of "mainnet" answered`)
	got := string(e.AppendResponse([]byte("x"), []byte(`"id-1"`)))
	want := `x{"jsonrpc":"2.0","id":"id-1","error":{"code":-32050,"message":"no node of \"mainnet\" answered"}}`
	if got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
	e.Data = map[string]int{"tries": 3}
	got = string(e.AppendResponse(nil, nil))
	want = `{"jsonrpc":"2.0","id":null,"error":{"code":-32050,"message":"no node of \"mainnet\" answered","data":{"tries":3}}}`
	if got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
	if e.ErrorCode() != CodeNoNodes || e.Error() != `no node of "mainnet" answered (code -32050)` {
		t.Errorf("ErrorCode %d Error %q", e.ErrorCode(), e.Error())
	}
}
