package restapi

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
)

func TestParamsOfGoodBodies(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name   string
		params func([]byte) ([]byte, *apiError)
		body   string
		want   string
	}{
		{"tag and string false, as the web server's example", blockByNumberParams, `{"block": "latest", "txdetails": "false"}`, `["latest",false]`},
		{"hex and bool", blockByNumberParams, `{"block":"0x5bad55","txdetails":true}`, `["0x5bad55",true]`},
		{"hex with leading zeros is made canonical", blockByNumberParams, `{"block":"0x0010","txdetails":"TRUE"}`, `["0x10",true]`},
		{"decimal string", blockByNumberParams, `{"block":"16","txdetails":"0"}`, `["0x10",false]`},
		{"JSON number", blockByNumberParams, `{"block":16,"txdetails":"t"}`, `["0x10",true]`},
		{"other tags", blockByNumberParams, `{"block":"finalized","txdetails":false}`, `["finalized",false]`},
		{"keys in any case, unknown keys ignored", blockByNumberParams, `{"Block":"earliest","TxDetails":false,"x":1}`, `["earliest",false]`},
		{"tx: the web server's example", txByBlockAndIndexParams, `{"block": "0xc68e80","index": "0x11"}`, `["0xc68e80","0x11"]`},
		{"tx: index 0x02 is made canonical", txByBlockAndIndexParams, `{"block":"latest","index":"0x02"}`, `["latest","0x2"]`},
		{"tx: numbers", txByBlockAndIndexParams, `{"block":1,"index":0}`, `["0x1","0x0"]`},
		{"tx: upper-case hex prefix", txByBlockAndIndexParams, `{"block":"0X1F","index":"0XA"}`, `["0x1f","0xa"]`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := c.params([]byte(c.body))
			if err != nil {
				t.Fatalf("%s: %+v", c.body, err)
			}
			if string(got) != c.want {
				t.Fatalf("%s: params %s, want %s", c.body, got, c.want)
			}
		})
	}
}

func TestParamsOfBadBodies(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name   string
		params func([]byte) ([]byte, *apiError)
		body   string
		says   []string // the message holds each
	}{
		{"empty body", blockByNumberParams, ``, []string{"body is empty", `"txdetails"`}},
		{"malformed JSON", blockByNumberParams, `{"block": "latest",`, []string{"not valid JSON", "at byte"}},
		{"not an object", txByBlockAndIndexParams, `["latest", "0x0"]`, []string{"must be a JSON object", `"index"`}},
		{"missing block", blockByNumberParams, `{"txdetails": true}`, []string{`"block" is required`, `"latest"`}},
		{"empty block", txByBlockAndIndexParams, `{"block": "", "index": "0x0"}`, []string{`"block" is required`}},
		{"null block", txByBlockAndIndexParams, `{"block": null, "index": "0x0"}`, []string{`"block" is required`}},
		{"missing txdetails", blockByNumberParams, `{"block": "latest"}`, []string{`"txdetails" is required`, "true for the block's full transactions"}},
		{"txdetails not a boolean", blockByNumberParams, `{"block": "latest", "txdetails": "maybe"}`, []string{`"txdetails" is not a boolean`, `"maybe"`}},
		{"bad block tag", blockByNumberParams, `{"block": "lastest", "txdetails": false}`, []string{`"block" is not a whole number`, `"lastest"`, `"earliest"`}},
		{"negative block", blockByNumberParams, `{"block": -5, "txdetails": false}`, []string{`"block" must not be negative`}},
		{"fractional block", blockByNumberParams, `{"block": 1.5, "txdetails": false}`, []string{`"block" is not a whole number`}},
		{"block over 64 bits", blockByNumberParams, `{"block": "0x10000000000000000", "txdetails": false}`, []string{`"block" is over 2^64-1`}},
		{"bare 0x", blockByNumberParams, `{"block": "0x", "txdetails": false}`, []string{`"block" is not a whole number`}},
		{"missing index", txByBlockAndIndexParams, `{"block": "latest"}`, []string{`"index" is required`}},
		{"negative index string", txByBlockAndIndexParams, `{"block": "latest", "index": "-1"}`, []string{`"index" must not be negative`}},
		{"negative index number", txByBlockAndIndexParams, `{"block": "latest", "index": -1}`, []string{`"index" must not be negative`}},
		{"index is a tag", txByBlockAndIndexParams, `{"block": "latest", "index": "latest"}`, []string{`"index" is not a whole number`}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := c.params([]byte(c.body))
			if err == nil {
				t.Fatalf("%s: accepted as %s", c.body, got)
			}
			if err.StatusCode != http.StatusBadRequest || !strings.HasPrefix(err.Message, "Malformed Request: ") {
				t.Fatalf("%s: %+v, want 400 and the web server's Malformed Request", c.body, err)
			}
			for _, s := range c.says {
				if !strings.Contains(err.Message, s) {
					t.Errorf("%s: message %q lacks %q", c.body, err.Message, s)
				}
			}
		})
	}
}

func TestStatusOfErrorCodes(t *testing.T) {
	t.Parallel()
	for code, want := range map[int]int{
		-32602: 400, -32700: 400, -32050: 503, -32051: 429, -32052: 504, -32054: 413, -32000: 502, 3: 502,
	} {
		if got := statusOf(code); got != want {
			t.Errorf("statusOf(%d) = %d, want %d", code, got, want)
		}
	}
}

// FuzzBodies: any body is either refused with the web server's 400 or
// turned into the two params of a JSON-RPC call.
func FuzzBodies(f *testing.F) {
	for _, s := range []string{
		`{"block": "latest", "txdetails": "false"}`, `{"block": "0xc68e80","index": "0x11"}`, `{"block": 16, "index": 0}`,
		`{"block": -1}`, `{"block": "0x", "index": "-0x1"}`, `[]`, `{`, ``, `{"block": "\u0030x1", "txdetails": 1}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		for _, params := range []func([]byte) ([]byte, *apiError){blockByNumberParams, txByBlockAndIndexParams} {
			out, e := params(body)
			if e != nil {
				if e.StatusCode != http.StatusBadRequest || !strings.HasPrefix(e.Message, "Malformed Request: ") {
					t.Fatalf("%q: %+v", body, e)
				}
				continue
			}
			var p []any
			if err := json.Unmarshal(out, &p); err != nil || len(p) != 2 {
				t.Fatalf("%q gave params %s (%v)", body, out, err)
			}
		}
	})
}
