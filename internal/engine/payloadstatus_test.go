package engine

import (
	"encoding/json"
	"testing"
)

// FuzzNodeAnswers feeds arbitrary node results to every parser on the
// answer path: none may panic, and a result accepted as a vote must carry a
// status the method may answer.
func FuzzNodeAnswers(f *testing.F) {
	for _, seed := range []string{
		statusJSON("VALID", hashA), fcuJSON("SYNCING", "", ""), fcuJSON("VALID", hashA, "0x0300000000000001"),
		envelope("0x10"), `null`, `"VALID"`, `{"payloadStatus":null}`, `{"status":7}`, `[]`, `{"blockValue":"0x"}`,
		`{"payloadStatus":{"status":"ACCEPTED"},"payloadId":"0x01"}`, `{"status":"VALID","latestValidHash":"0xzz"}`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		for _, kind := range []methodClass{kindNewPayload, kindForkchoice} {
			p, err := parseStatus(kind, raw)
			if err == nil && !allowed(kind, p.status) {
				t.Fatalf("accepted status %q for kind %d", p.status, kind)
			}
		}
		blockValue(raw)
		isObject(raw)
		if json.Valid(raw) {
			var res response
			res.Result = raw
			res.asReply().encode(json.RawMessage("1"))
		}
		_, _, _ = parseBody(raw)
	})
}
