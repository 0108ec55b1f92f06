package restapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"strconv"
	"strings"
)

// Examples of good bodies, for the error messages.
const (
	blockByNumberExample     = `{"block": "latest", "txdetails": false}`
	txByBlockAndIndexExample = `{"block": "latest", "index": "0x0"}`
)

// blockTags are the block names a node takes beside numbers.
var blockTags = []string{"latest", "earliest", "pending", "safe", "finalized"}

func noParams([]byte) ([]byte, *apiError) { return []byte("[]"), nil }

// blockByNumberParams reads {"block": …, "txdetails": …}.
func blockByNumberParams(body []byte) ([]byte, *apiError) {
	var req struct {
		Block     json.RawMessage `json:"block"`
		TxDetails json.RawMessage `json:"txdetails"`
	}
	if e := decode(body, &req, blockByNumberExample); e != nil {
		return nil, e
	}
	block, e := blockParam(req.Block, blockByNumberExample)
	if e != nil {
		return nil, e
	}
	full, e := boolParam(req.TxDetails)
	if e != nil {
		return nil, e
	}
	return []byte(`["` + block + `",` + strconv.FormatBool(full) + `]`), nil
}

// txByBlockAndIndexParams reads {"block": …, "index": …}.
func txByBlockAndIndexParams(body []byte) ([]byte, *apiError) {
	var req struct {
		Block json.RawMessage `json:"block"`
		Index json.RawMessage `json:"index"`
	}
	if e := decode(body, &req, txByBlockAndIndexExample); e != nil {
		return nil, e
	}
	block, e := blockParam(req.Block, txByBlockAndIndexExample)
	if e != nil {
		return nil, e
	}
	if absent(req.Index) {
		return nil, badRequest(`"index" is required: the transaction's position in the block, from 0, e.g. ` + txByBlockAndIndexExample)
	}
	index, err := quantity(req.Index)
	if err != nil {
		return nil, badRequest(`"index" ` + err.Error() + `: give the transaction's position in the block, from 0, e.g. "0x0" or 0`)
	}
	return []byte(`["` + block + `","` + index + `"]`), nil
}

// decode reads a JSON object into v.
func decode(body []byte, v any, example string) *apiError {
	body = bytes.TrimSpace(body)
	if len(body) == 0 {
		return badRequest("the body is empty: send a JSON object, e.g. " + example)
	}
	err := json.Unmarshal(body, v)
	var syntax *json.SyntaxError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &syntax):
		return badRequest("the body is not valid JSON (" + err.Error() + " at byte " + strconv.FormatInt(syntax.Offset, 10) + "): send e.g. " + example)
	case body[0] != '{':
		return badRequest("the body must be a JSON object, e.g. " + example)
	}
	return badRequest("the body is not valid JSON (" + err.Error() + "): send e.g. " + example)
}

// absent reports whether a member is missing, null or "".
func absent(raw json.RawMessage) bool {
	s := string(raw)
	return s == "" || s == "null" || s == `""`
}

// blockParam reads "block": a tag, or a number as a JSON number or a
// decimal or 0x-hex string. Numbers are sent in the node's canonical hex.
func blockParam(raw json.RawMessage, example string) (string, *apiError) {
	const what = `: give a block number ("0x10" or 16) or one of "latest", "earliest", "pending", "safe", "finalized"`
	if absent(raw) {
		return "", badRequest(`"block" is required` + what + `, e.g. ` + example)
	}
	var tag string
	if json.Unmarshal(raw, &tag) == nil {
		for _, t := range blockTags {
			if tag == t {
				return tag, nil
			}
		}
	}
	n, err := quantity(raw)
	if err != nil {
		return "", badRequest(`"block" ` + err.Error() + what)
	}
	return n, nil
}

// quantity reads a non-negative integer given as a JSON number or a decimal
// or 0x-hex string, and returns it as a canonical 0x-hex quantity.
func quantity(raw json.RawMessage) (string, error) {
	s := string(raw)
	if raw[0] == '"' {
		if json.Unmarshal(raw, &s) != nil {
			return "", errors.New("is not a string or a number")
		}
	}
	shown := strconv.Quote(s)
	if strings.HasPrefix(strings.TrimSpace(s), "-") {
		return "", errors.New("must not be negative, got " + shown)
	}
	var v uint64
	var err error
	if hex, ok := cutHexPrefix(s); ok {
		v, err = strconv.ParseUint(hex, 16, 64)
	} else {
		v, err = strconv.ParseUint(s, 10, 64)
	}
	if errors.Is(err, strconv.ErrRange) {
		return "", errors.New("is over 2^64-1, got " + shown)
	}
	if err != nil {
		return "", errors.New("is not a whole number, got " + shown)
	}
	return "0x" + strconv.FormatUint(v, 16), nil
}

func cutHexPrefix(s string) (string, bool) {
	if len(s) > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X') {
		return s[2:], true
	}
	return "", false
}

// boolParam reads "txdetails": a JSON boolean, or a string the web server
// accepted ("true", "false", "1", "0", "t", "f" in any case).
func boolParam(raw json.RawMessage) (bool, *apiError) {
	const what = `: true for the block's full transactions, false for their hashes, e.g. ` + blockByNumberExample
	if absent(raw) {
		return false, badRequest(`"txdetails" is required` + what)
	}
	var b bool
	if json.Unmarshal(raw, &b) == nil {
		return b, nil
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		if b, err := strconv.ParseBool(s); err == nil {
			return b, nil
		}
	}
	return false, badRequest(`"txdetails" is not a boolean, got ` + string(raw) + what)
}
