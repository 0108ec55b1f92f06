package subs

import (
	"bytes"
	"encoding/json"
	"strings"

	"github.com/evmgate/evmgate/internal/jsonrpc"
)

// Kind is what a subscription delivers.
type Kind uint8

const (
	// Other kinds are passed through as the node sends them.
	Other Kind = iota
	NewHeads
	Logs
	PendingTransactions
	Syncing
)

var kindNames = [...]string{"other", "newHeads", "logs", "newPendingTransactions", "syncing"}

// String returns the kind's eth_subscribe name ("other" for the rest); it is
// also the metrics label.
func (k Kind) String() string { return kindNames[k] }

// Kinds lists every kind, for metrics.
var Kinds = []Kind{Other, NewHeads, Logs, PendingTransactions, Syncing}

func kindOf(name string) Kind {
	for k, n := range kindNames {
		if n == name && Kind(k) != Other {
			return Kind(k)
		}
	}
	return Other
}

// request is a parsed eth_subscribe params array.
type request struct {
	kind   Kind
	name   string // the kind as the client wrote it
	params []byte // the params array, sent upstream unchanged
	key    string // the feed's identity: kind and canonical filter
	// address and topics of a logs filter, raw (nil when absent).
	address, topics json.RawMessage
}

// parseRequest reads eth_subscribe's params: ["kind", filter...].
func parseRequest(params []byte) (request, *jsonrpc.Error) {
	var elems []json.RawMessage
	if err := json.Unmarshal(params, &elems); err != nil || len(elems) == 0 {
		return request{}, jsonrpc.NewError(jsonrpc.CodeInvalidParams,
			`invalid params: eth_subscribe takes ["kind", ...], e.g. ["newHeads"] or ["logs", {"address": "0x..."}]`)
	}
	var name string
	if err := json.Unmarshal(elems[0], &name); err != nil || name == "" {
		return request{}, jsonrpc.NewError(jsonrpc.CodeInvalidParams, "invalid params: the first parameter must be the subscription kind, a string")
	}
	r := request{kind: kindOf(name), name: name, params: bytes.Clone(params)}
	var canon strings.Builder
	canon.WriteString(name)
	for _, e := range elems[1:] {
		var v any
		if err := json.Unmarshal(e, &v); err != nil {
			return request{}, jsonrpc.NewError(jsonrpc.CodeInvalidParams, "invalid params: "+err.Error())
		}
		b, _ := json.Marshal(v) // sorted keys, no spaces
		canon.WriteByte('|')
		// Addresses and topics are hex: their case does not matter.
		canon.WriteString(strings.ToLower(string(b)))
	}
	r.key = canon.String()
	if r.kind == Logs && len(elems) > 1 {
		var f map[string]json.RawMessage
		if err := json.Unmarshal(elems[1], &f); err != nil {
			return request{}, jsonrpc.NewError(jsonrpc.CodeInvalidParams, "invalid params: a logs filter must be an object with address and topics")
		}
		r.address, r.topics = f["address"], f["topics"]
	}
	return r, nil
}

// pollable reports whether the kind can be fed by polling over HTTP.
func (k Kind) pollable() bool { return k == NewHeads || k == Logs }
