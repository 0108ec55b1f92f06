package engine

import (
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"
)

func envelope(value string) string {
	return `{"executionPayload":{"blockHash":"` + hashA + `"},"blockValue":"` + value + `","blobsBundle":{},"shouldOverrideBuilder":false}`
}

func TestPayloadBuilding(t *testing.T) {
	t.Parallel()
	fakes := threeFakes(t)
	ids := []string{"0x0300000000000001", "0x0300000000000002", "0x0300000000000003"}
	for i, f := range fakes {
		f.on("engine_forkchoiceUpdatedV3", answer{result: fcuJSON("VALID", hashA, ids[i])})
	}
	fakes[0].on("engine_getPayloadV5", answer{result: envelope("0x10")})
	fakes[1].on("engine_getPayloadV5", answer{result: envelope("0x2a")}) // the best
	fakes[2].on("engine_getPayloadV5", answer{result: statusJSON("SYNCING", "")})
	tm := newTestMux(t, fakes)

	got := tm.call(t, "engine_forkchoiceUpdatedV3", fcuParams(true))
	var fc struct {
		PayloadStatus json.RawMessage
		PayloadID     string
	}
	if err := json.Unmarshal(got, &fc); err != nil {
		t.Fatal(err)
	}
	if string(fc.PayloadStatus) != statusJSON("VALID", hashA) || !isHexData(fc.PayloadID) || len(fc.PayloadID) != 18 ||
		slices.Contains(ids, fc.PayloadID) {
		t.Fatalf("fcU result %s: want VALID and the gateway's own payloadId", got)
	}
	env := tm.call(t, "engine_getPayloadV5", `["`+fc.PayloadID+`"]`)
	if string(env) != envelope("0x2a") {
		t.Fatalf("getPayload %s, want node 1's envelope byte for byte", env)
	}
	for i, f := range fakes {
		calls := f.callsOf("engine_getPayloadV5")
		if len(calls) != 1 || string(calls[0]) != `["`+ids[i]+`"]` {
			t.Fatalf("node %d asked with %s, want its own id %s", i, calls, ids[i])
		}
	}
	// Unknown ids are the spec's -38001.
	res := tm.callRaw(t, "engine_getPayloadV5", `["0x0000000000000000"]`)
	if !strings.Contains(string(res.Error), "-38001") {
		t.Fatalf("unknown id: %s", res.Error)
	}
}

func TestGetPayloadFallbackAndFailures(t *testing.T) {
	t.Parallel()
	fakes := threeFakes(t)
	for i, f := range fakes {
		f.on("engine_forkchoiceUpdatedV3", answer{result: fcuJSON("VALID", hashA, "0x030000000000000"+string(rune('1'+i)))})
	}
	// No blockValue anywhere (garbage, an error, a hang): the valid one wins.
	fakes[0].on("engine_getPayloadV5", answer{result: `"not an envelope"`})
	fakes[1].on("engine_getPayloadV5", answer{rpcErr: `{"code":-38001,"message":"Unknown payload"}`})
	hang := make(chan struct{})
	t.Cleanup(func() { close(hang) })
	fakes[2].on("engine_getPayloadV5", answer{result: envelope("zz")})
	tm := newTestMux(t, fakes, func(c *Config) { c.GetPayloadTimeout = "300ms" })
	id := payloadIDOf(t, tm.call(t, "engine_forkchoiceUpdatedV3", fcuParams(true)))
	if got := tm.call(t, "engine_getPayloadV5", `["`+id+`"]`); string(got) != envelope("zz") {
		t.Fatalf("getPayload %s", got)
	}
	// All fail: the node's own error comes back; a hang is cut at the deadline.
	fakes[2].on("engine_getPayloadV5", answer{hold: hang})
	res := tm.callRaw(t, "engine_getPayloadV5", `["`+id+`"]`)
	if string(res.Error) != `{"code":-38001,"message":"Unknown payload"}` {
		t.Fatalf("all failed: %s %s", res.Result, res.Error)
	}
}

func payloadIDOf(t *testing.T, fcu json.RawMessage) string {
	t.Helper()
	var fc struct{ PayloadID *string }
	if err := json.Unmarshal(fcu, &fc); err != nil || fc.PayloadID == nil {
		t.Fatalf("no payloadId in %s", fcu)
	}
	return *fc.PayloadID
}

func TestForkchoiceNotValidHasNoPayloadID(t *testing.T) {
	t.Parallel()
	fakes := threeFakes(t)
	fakes[0].on("engine_forkchoiceUpdatedV3", answer{result: fcuJSON("VALID", hashA, "0x0300000000000001")})
	fakes[1].on("engine_forkchoiceUpdatedV3", answer{result: fcuJSON("SYNCING", "", "")})
	fakes[2].on("engine_forkchoiceUpdatedV3", answer{result: fcuJSON("SYNCING", "", "")})
	tm := newTestMux(t, fakes)
	if got := tm.call(t, "engine_forkchoiceUpdatedV3", fcuParams(true)); string(got) != fcuJSON("SYNCING", "", "") {
		t.Fatalf("result %s", got)
	}
}

func TestExchangeCapabilities(t *testing.T) {
	t.Parallel()
	fakes := threeFakes(t)
	fakes[0].on("engine_exchangeCapabilities", answer{result: `["engine_newPayloadV4","engine_getBlobsV2","engine_getBlobsV3"]`})
	fakes[1].on("engine_exchangeCapabilities", answer{result: `["engine_getBlobsV2","engine_newPayloadV4"]`})
	fakes[2].on("engine_exchangeCapabilities", answer{result: `["engine_newPayloadV4"]`})
	tm := newTestMux(t, fakes, func(c *Config) { c.Nodes[2].DoNotUse = true })
	cl := `[["engine_newPayloadV4","engine_getBlobsV2","engine_getBlobsV3","engine_getBlobsV4"]]`
	got := tm.call(t, "engine_exchangeCapabilities", cl)
	if string(got) != `["engine_newPayloadV4","engine_getBlobsV2"]` {
		t.Fatalf("capabilities %s: want the intersection of the voting nodes", got)
	}
	for i, f := range fakes[:2] {
		if calls := f.callsOf("engine_exchangeCapabilities"); len(calls) != 1 || string(calls[0]) != cl {
			t.Fatalf("node %d got %s, want the CL's list unchanged", i, calls)
		}
	}
}

func TestClientVersionIsFlat(t *testing.T) {
	t.Parallel()
	fakes := threeFakes(t)
	fakes[0].on("engine_getClientVersionV1", answer{result: `[{"code":"GE","name":"go-ethereum","version":"1.17.10","commit":"0x00000000"}]`})
	fakes[1].on("engine_getClientVersionV1", answer{result: `[{"code":"NM","name":"Nethermind","version":"1.30","commit":"0x01020304"}]`})
	fakes[2].on("engine_getClientVersionV1", answer{status: 500})
	tm := newTestMux(t, fakes)
	got := tm.call(t, "engine_getClientVersionV1", `[{"code":"LH","name":"Lighthouse","version":"v8","commit":"0xabcdef01"}]`)
	var list []map[string]string
	if err := json.Unmarshal(got, &list); err != nil || len(list) != 2 || list[0]["code"] != "GE" || list[1]["code"] != "NM" {
		t.Fatalf("client version %s: want one flat list in node order", got)
	}
}

func TestPassthroughFailover(t *testing.T) {
	t.Parallel()
	fakes := threeFakes(t)
	fakes[0].srv.Close() // the primary is gone
	for _, f := range fakes[1:] {
		f.on("eth_chainId", answer{result: `"0x539"`})
		f.on("engine_getBlobsV2", answer{result: `null`})
		f.on("engine_futureMethodV1", answer{result: `{"ok":true}`})
		f.on("eth_call", answer{rpcErr: `{"code":3,"message":"execution reverted","data":"0x08c379a0"}`})
	}
	tm := newTestMux(t, fakes)
	if got := tm.call(t, "eth_chainId", `[]`); string(got) != `"0x539"` {
		t.Fatalf("eth_chainId %s", got)
	}
	if tm.nodeList()[0].getState() != stateDead {
		t.Fatal("the failed primary must be marked dead")
	}
	if got := tm.call(t, "engine_getBlobsV2", `[["0x01"]]`); string(got) != `null` {
		t.Fatalf("getBlobsV2 %s", got)
	}
	if got := tm.call(t, "engine_futureMethodV1", `[]`); string(got) != `{"ok":true}` {
		t.Fatalf("unknown engine method %s: want it forwarded", got)
	}
	res := tm.callRaw(t, "eth_call", `[{},"latest"]`)
	if string(res.Error) != `{"code":3,"message":"execution reverted","data":"0x08c379a0"}` {
		t.Fatalf("eth_call error %s, want it byte for byte", res.Error)
	}
	if n := len(fakes[1].callsOf("eth_call")) + len(fakes[2].callsOf("eth_call")); n != 1 {
		t.Fatalf("a JSON-RPC error was retried: %d calls", n)
	}
}

func TestBatch(t *testing.T) {
	t.Parallel()
	f := newFakeEL(t)
	f.on("eth_chainId", answer{result: `"0x1"`})
	f.on("engine_newPayloadV4", answer{result: statusJSON("VALID", hashA)})
	tm := newTestMux(t, []*fakeEL{f})
	code, body := tm.post(t, `[{"jsonrpc":"2.0","id":"a","method":"eth_chainId","params":[]},`+
		`{"jsonrpc":"2.0","id":2,"method":"engine_newPayloadV4","params":`+newPayloadParams+`}, 5]`)
	if code != http.StatusOK {
		t.Fatalf("http %d", code)
	}
	var out []response
	if err := json.Unmarshal(body, &out); err != nil || len(out) != 3 {
		t.Fatalf("batch answer %s", body)
	}
	if string(out[0].ID) != `"a"` || string(out[0].Result) != `"0x1"` ||
		string(out[1].ID) != "2" || string(out[1].Result) != statusJSON("VALID", hashA) ||
		!strings.Contains(string(out[2].Error), "-32600") {
		t.Fatalf("batch answer %s", body)
	}
	_, body = tm.post(t, `{"jsonrpc":"2.0",`)
	if !strings.Contains(string(body), "-32700") {
		t.Fatalf("bad json: %s", body)
	}
}
