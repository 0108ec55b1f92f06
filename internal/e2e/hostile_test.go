package e2e

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"slices"
	"strings"
)

// hostile makes the requests of a client that tries every legal shape a
// gateway may stumble on. Request i is the same on every run.
type hostile struct{ faucet string }

func newHostile(faucet string) *hostile { return &hostile{faucet: faucet} }

// hostileRequest is one request and what its answer must carry.
type hostileRequest struct {
	kind  string
	body  []byte
	batch bool
	ids   []string // the ids the answers carry back, byte for byte; none for notifications
	big   bool     // over geth's 5 MiB HTTP body limit
}

func (h *hostile) request(i int) hostileRequest {
	r := rand.New(rand.NewPCG(uint64(i), 7))
	switch k := i % 20; {
	case i%100 == 13:
		body := `{"jsonrpc":"2.0","id":"big","method":"web3_sha3","params":["0x` + strings.Repeat("ab", 3<<20) + `"]}`
		return hostileRequest{kind: "body over the node's limit", body: []byte(body), ids: []string{`"big"`}, big: true}
	case k < 10:
		id := longID(r, 100<<10)
		return hostileRequest{kind: "long id", body: h.call(r, id, false), ids: []string{id}}
	case k < 12:
		id := longID(r, 1<<10)
		return hostileRequest{kind: "huge params", body: h.call(r, id, true), ids: []string{id}}
	case k == 12:
		return hostileRequest{kind: "notification", body: h.call(r, "", true)}
	default:
		return h.batch(r)
	}
}

// call is one call with id (a notification when id is "").
func (h *hostile) call(r *rand.Rand, id string, huge bool) []byte {
	var b strings.Builder
	b.WriteString(`{"jsonrpc":"2.0",`)
	if id != "" {
		b.WriteString(`"id":` + id + `,`)
	}
	size := 1 << 10
	if huge {
		size = 256 << 10
	}
	data := make([]byte, r.IntN(size))
	for k := range data {
		data[k] = byte(r.Uint32())
	}
	switch r.IntN(9) {
	case 0:
		b.WriteString(`"method":"eth_blockNumber","params":[]`)
	case 1:
		b.WriteString(`"method":"eth_chainId"`)
	case 2:
		b.WriteString(`"method":"eth_getBlockByNumber","params":["latest",true]`)
	case 3:
		b.WriteString(`"method":"eth_getBalance","params":["` + h.faucet + `","latest"]`)
	case 4: // the identity precompile returns its input: a result as large as the params
		b.WriteString(`"method":"eth_call","params":[{"to":"0x0000000000000000000000000000000000000004","data":"0x` + hex.EncodeToString(data) + `"},"latest"]`)
	case 5:
		b.WriteString(`"method":"web3_sha3","params":["0x` + hex.EncodeToString(data) + `"]`)
	case 6:
		b.WriteString(`"method":"eth_getTransactionByHash","params":["0x` + hex.EncodeToString(data[:min(len(data), 32)]) + strings.Repeat("0", 64-2*min(len(data), 32)) + `"]`)
	case 7:
		arg, _ := json.Marshal(string(data[:min(len(data), 64)]))
		b.WriteString(`"method":"no_such_method","params":[` + string(arg) + `]`)
	default:
		b.WriteString(`"method":"eth_getBalance","params":["not an address",{"nested":["[","{\"id\":1,\"result\":2}"]}]`)
	}
	b.WriteString(`}`)
	return []byte(b.String())
}

// batch is a batch of 1 to 12 elements: calls with long ids, duplicate
// ids, notifications (sometimes only those) and invalid elements.
func (h *hostile) batch(r *rand.Rand) hostileRequest {
	q := hostileRequest{kind: "batch", batch: true}
	onlyNotes := r.IntN(8) == 0
	var parts []string
	for range 1 + r.IntN(12) {
		roll := r.IntN(100)
		switch {
		case onlyNotes || roll < 15:
			parts = append(parts, string(h.call(r, "", false)))
		case roll < 25 && len(q.ids) > 0:
			id := q.ids[len(q.ids)-1]
			parts = append(parts, string(h.call(r, id, false)))
			q.ids = append(q.ids, id)
		case roll < 35:
			el := []string{`1`, `{}`, `"x"`, `{"jsonrpc":"2.0","id":7}`}[r.IntN(4)]
			parts = append(parts, el)
			if el == `{"jsonrpc":"2.0","id":7}` {
				q.ids = append(q.ids, `7`)
			} else {
				q.ids = append(q.ids, `null`)
			}
		default:
			id := longID(r, 20<<10)
			parts = append(parts, string(h.call(r, id, false)))
			q.ids = append(q.ids, id)
		}
	}
	q.body = []byte("[" + strings.Join(parts, ",") + "]")
	return q
}

// idPieces make string ids: JSON escapes, characters that encoding/json
// re-encodes (<, >, &, U+2028), and text that looks like JSON-RPC.
var idPieces = []string{`a`, `Z`, `0`, ` `, `\"`, `\\`, `\/`, `/`, `<`, `>`, `&`, `é`, "\u2028", `\u2028`, `\n`,
	`{\"id\":1,\"result\":2}`, `\"result\":`, `[`, `]`, `,`, `:`}

// longID is an id of up to max bytes: mostly a string, sometimes a long
// number, or null.
func longID(r *rand.Rand, max int) string {
	switch r.IntN(20) {
	case 0:
		return `null`
	case 1:
		return "1" + strings.Repeat("0", r.IntN(max))
	}
	n := r.IntN(max)
	var b strings.Builder
	b.WriteByte('"')
	for b.Len() < n {
		b.WriteString(idPieces[r.IntN(len(idPieces))])
	}
	b.WriteByte('"')
	return b.String()
}

// check judges the answer to q.
func (q hostileRequest) check(status int, body []byte) error {
	if q.big && status == http.StatusRequestEntityTooLarge && bytes.Contains(body, []byte(`"code":-32054`)) {
		return nil // a node over HTTP refused it as too large; node2 over its WebSocket takes it
	}
	if status != http.StatusOK {
		return fmt.Errorf("HTTP %d: %.300s", status, body)
	}
	if len(q.ids) == 0 {
		if len(body) != 0 {
			return fmt.Errorf("answer to notifications only: %.300s", body)
		}
		return nil
	}
	var els []map[string]json.RawMessage
	var err error
	if q.batch {
		err = json.Unmarshal(body, &els)
	} else {
		els = append(els, nil)
		err = json.Unmarshal(body, &els[0])
	}
	if err != nil {
		return fmt.Errorf("answer is not JSON-RPC: %v: %.300s", err, body)
	}
	var got []string
	for _, el := range els {
		if (el["result"] == nil) == (el["error"] == nil) {
			return fmt.Errorf("answer without exactly one of result and error: %.300s", body)
		}
		var e struct{ Code int }
		if el["error"] != nil && json.Unmarshal(el["error"], &e) == nil && e.Code <= -32050 && e.Code >= -32059 {
			return fmt.Errorf("the gateway answered with its own error: %s", el["error"])
		}
		got = append(got, string(el["id"]))
	}
	want := slices.Clone(q.ids)
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		return fmt.Errorf("ids not back byte for byte: got %d answers, want %d", len(got), len(want))
	}
	return nil
}
