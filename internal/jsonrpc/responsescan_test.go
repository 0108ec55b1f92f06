package jsonrpc

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
)

// feed gives resp to a fresh scanner chunk bytes at a time, as reads of a
// node's answer would, and returns the outcome and the number of times the
// scanner actually read the prefix (rather than waiting for more).
func feed(resp []byte, chunk int) (o Outcome, reads int, s ResponseScan) {
	for k := 0; ; {
		k = min(k+chunk, len(resp))
		end := k == len(resp)
		if end || k >= s.again {
			reads++
		}
		if o = s.Scan(resp[:k], end); o != NeedMore || end {
			return o, reads, s
		}
	}
}

func TestResponseScanOrdersAndSizes(t *testing.T) {
	longID := `"` + strings.Repeat(`ab\"c<>&\u2028`, 10_000) + `"`
	deep := strings.Repeat(`[`, 200) + strings.Repeat(`]`, 200)
	tests := []struct {
		name string
		resp string
		want Outcome
	}{
		{"geth order", `{"jsonrpc":"2.0","id":1,"result":"0x1"}`, Result},
		{"long id before result", `{"jsonrpc":"2.0","id":` + longID + `,"result":{"a":1}}`, Result},
		{"long id before error", `{"jsonrpc":"2.0","id":` + longID + `,"error":{"code":-32601,"message":"no"}}`, Failure},
		{"result first", `{"result":"0x1","id":` + longID + `,"jsonrpc":"2.0"}`, Result},
		{"error first", `{"error":{"code":3,"message":"execution reverted"},"jsonrpc":"2.0","id":7}`, Failure},
		{"null error then result", `{"id":1,"error":null,"result":null}`, Result},
		{"null error alone", `{"jsonrpc":"2.0","id":1,"error":null}`, Failure},
		{"escaped key", `{"jsonrpc":"2.0","id":1,"res\u0075lt":"0x1"}`, Result},
		{"long number id", `{"id":` + strings.Repeat("9", 50_000) + `,"result":1}`, Result},
		{"deep member before result", `{"jsonrpc":"2.0","x":` + deep + `,"id":1,"result":2}`, Result},
		{"deep member then junk", `{"x":` + deep + `]}`, Malformed},
		{"spaces everywhere", " \n{ \"id\" : 1 ,\r\n \"result\"\t: 1 } ", Result},
		{"neither", `{"jsonrpc":"2.0","id":` + longID + `}`, Malformed},
		{"empty object", `{}`, Malformed},
		{"not an object", `"` + strings.Repeat("x", 10_000) + `"`, Malformed},
		{"html", `<html><body>502 Bad Gateway</body></html>`, Malformed},
		{"cut", `{"jsonrpc":"2.0","id":` + longID[:5000], NeedMore},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := ScanResponse([]byte(tt.resp)); got != tt.want {
				t.Fatalf("whole answer: got %v, want %v", got, tt.want)
			}
			for _, chunk := range []int{1, 7, 4096, len(tt.resp)} {
				if got, _, _ := feed([]byte(tt.resp), chunk); got != tt.want {
					t.Fatalf("in reads of %d bytes: got %v, want %v", chunk, got, tt.want)
				}
			}
		})
	}
}

// TestResponseScanReadsLinear: a 1 MB id that arrives a byte at a time is
// read again only when the prefix has doubled, so the scan's work stays
// linear in the answer's size.
func TestResponseScanReadsLinear(t *testing.T) {
	resp := []byte(`{"jsonrpc":"2.0","id":"` + strings.Repeat("x", 1<<20) + `","result":"0x1"}`)
	o, reads, _ := feed(resp, 1)
	if o != Result {
		t.Fatalf("got %v, want Result", o)
	}
	if reads > 48 {
		t.Fatalf("the prefix was read %d times, want about log2 of its size", reads)
	}
}

func TestResponseScanIDAndResultNull(t *testing.T) {
	resp := []byte(`{"jsonrpc":"2.0","id":"a\u003cb","result" : null}`)
	var s ResponseScan
	if o := s.Scan(resp, true); o != Result {
		t.Fatalf("got %v", o)
	}
	start, end, ok := s.ID()
	if !ok || string(resp[start:end]) != `"a\u003cb"` || !s.ResultNull(resp) {
		t.Fatalf("id %v %q, null %v", ok, resp[start:end], s.ResultNull(resp))
	}
	want := `{"jsonrpc":"2.0","id":"a<b","result" : null}`
	if got := s.WithID(resp, []byte(`"a<b"`)); string(got) != want {
		t.Fatalf("WithID: %s", got)
	}
	if got := s.WithID(resp, []byte(`"a\u003cb"`)); &got[0] != &resp[0] {
		t.Fatal("WithID copied an answer whose id is already the client's")
	}

	var after ResponseScan
	late := []byte(`{"result":1,"id":2}`)
	if after.Scan(late, true) != Result {
		t.Fatal("not a result")
	}
	if _, _, ok := after.ID(); ok || !bytes.Equal(after.WithID(late, []byte("3")), late) {
		t.Fatal("an id after the result is not known when the scan stops")
	}
}

func TestSameIDAndElementWithID(t *testing.T) {
	for _, c := range []struct {
		a, b string
		want bool
	}{
		{`1`, `1`, true},
		{`"a<b>&c"`, `"a\u003cb\u003e\u0026c"`, true},
		{`"\u2028"`, "\"\u2028\"", true},
		{`"a"`, `"b"`, false},
		{`1`, `"1"`, false},
		{`1.0`, `1`, false},
		{`null`, `null`, true},
	} {
		if got := SameID([]byte(c.a), []byte(c.b)); got != c.want {
			t.Errorf("SameID(%s, %s) = %v, want %v", c.a, c.b, got, c.want)
		}
	}
	els, err := SplitBatch([]byte(`[{"jsonrpc":"2.0","id":"x\u003c","result":1}, {"id":2,"result":2}]`))
	if err != nil || len(els) != 2 {
		t.Fatal(els, err)
	}
	if got := string(els[0].WithID([]byte(`"x<"`))); got != `{"jsonrpc":"2.0","id":"x<","result":1}` {
		t.Errorf("WithID: %s", got)
	}
	if got := els[1].WithID([]byte(`2`)); &got[0] != &els[1].Raw[0] {
		t.Error("WithID copied an element whose id is already the client's")
	}
}

// FuzzResponseScanReads: fed in reads of any size, the scanner decides as
// a scan of the whole answer does, and the id it reports is the answer's
// id as encoding/json reads it.
func FuzzResponseScanReads(f *testing.F) {
	for _, s := range []string{
		`{"jsonrpc":"2.0","id":"abc","result":"0x1"}`,
		`{"result":[1,2],"id":1}`,
		`{"error":{"code":1,"message":"m"},"id":null}`,
		`{"id":1,"error":null}`,
		`{"id":"\u0041","re\u0073ult":{}}`,
		`{"id":1 ,}`,
	} {
		f.Add([]byte(s), uint8(3))
	}
	f.Fuzz(func(t *testing.T, resp []byte, chunk uint8) {
		whole := ScanResponse(resp)
		got, _, s := feed(resp, int(chunk)+1)
		if got != whole {
			t.Fatalf("%q in reads of %d: %v, whole %v", resp, int(chunk)+1, got, whole)
		}
		start, end, ok := s.ID()
		if !ok || !json.Valid(resp) {
			return
		}
		var m map[string]json.RawMessage
		if json.Unmarshal(resp, &m) == nil && bytes.Count(resp, []byte(`"id"`)) == 1 && !bytes.Equal(m["id"], resp[start:end]) {
			t.Fatalf("%q: id %q, encoding/json reads %q", resp, resp[start:end], m["id"])
		}
	})
}

// TestSplitBatchDeepElements: a node's answer may nest deeper than a
// request may (a call tracer's frames); its elements and their ids are
// still found.
func TestSplitBatchDeepElements(t *testing.T) {
	deep := strings.Repeat(`{"calls":[`, 300) + strings.Repeat(`]}`, 300)
	resp := `[{"jsonrpc":"2.0","result":` + deep + `,"id":1},{"jsonrpc":"2.0","id":2,"error":{"code":3,"message":"m","data":` + deep + `}}]`
	els, err := SplitBatch([]byte(resp))
	if err != nil || len(els) != 2 || string(els[0].ID) != "1" || string(els[1].ID) != "2" || els[1].Err == nil || els[1].Err.Code != 3 {
		t.Fatalf("SplitBatch: %d elements, %v", len(els), err)
	}
	if _, err := SplitBatch([]byte(`[` + strings.Repeat("[", 20_000) + strings.Repeat("]", 20_000) + `]`)); err == nil {
		t.Fatal("a batch deeper than encoding/json allows was accepted")
	}
}
