package engine

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
)

// request is one JSON-RPC call; id and params stay raw bytes.
type request struct {
	ID     json.RawMessage `json:"id"`
	Method string          `json:"method"`
	Params json.RawMessage `json:"params"`
}

// response is one node's JSON-RPC answer; result and error stay raw bytes.
type response struct {
	ID     json.RawMessage `json:"id"`
	Result json.RawMessage `json:"result"`
	Error  json.RawMessage `json:"error"`
}

// Engine API error codes of execution-apis common.md beyond the standard
// JSON-RPC ones (package jsonrpc).
const (
	codeServer         = -32000
	codeUnknownPayload = -38001
)

// rpcError is an error the gateway itself answers with.
type rpcError struct {
	code int
	msg  string
}

func (e *rpcError) Error() string { return fmt.Sprintf("json-rpc error %d: %s", e.code, e.msg) }

func (e *rpcError) raw() json.RawMessage {
	msg, _ := json.Marshal(e.msg)
	return json.RawMessage(`{"code":` + strconv.Itoa(e.code) + `,"message":` + string(msg) + `}`)
}

var errNoNodes = &rpcError{codeServer, "no execution client answered"}

// isBatch reports whether body is a JSON array (first non-space byte '[').
func isBatch(body []byte) bool {
	b := bytes.TrimLeft(body, " \t\r\n")
	return len(b) > 0 && b[0] == '['
}

// parseBody splits a request body into calls. A malformed element becomes a
// call with an empty method, answered with -32600 on its own.
func parseBody(body []byte) (calls []request, batch bool, err error) {
	if !isBatch(body) {
		var r request
		if err := json.Unmarshal(body, &r); err != nil {
			return nil, false, fmt.Errorf("parsing request: %w", err)
		}
		return []request{r}, false, nil
	}
	var raws []json.RawMessage
	if err := json.Unmarshal(body, &raws); err != nil {
		return nil, true, fmt.Errorf("parsing batch: %w", err)
	}
	if len(raws) == 0 {
		return nil, true, errors.New("parsing batch: empty")
	}
	calls = make([]request, len(raws))
	for i, raw := range raws {
		if err := json.Unmarshal(raw, &calls[i]); err != nil {
			calls[i] = request{}
		}
	}
	return calls, true, nil
}

// encodeCall builds the body sent to a node: our own numeric id, the call's
// method and its params bytes unchanged.
func encodeCall(id uint64, method string, params json.RawMessage) []byte {
	if len(params) == 0 {
		params = json.RawMessage("[]")
	}
	m, _ := json.Marshal(method)
	b := make([]byte, 0, len(params)+len(m)+48)
	b = append(b, `{"jsonrpc":"2.0","id":`...)
	b = strconv.AppendUint(b, id, 10)
	b = append(b, `,"method":`...)
	b = append(b, m...)
	b = append(b, `,"params":`...)
	b = append(b, params...)
	return append(b, '}')
}

// reply is the answer to one call: exactly one of result and errRaw is set.
type reply struct {
	result json.RawMessage
	errRaw json.RawMessage
}

func errorReply(e *rpcError) reply { return reply{errRaw: e.raw()} }

// encode writes the reply with the client's id; result and error bytes are
// copied through untouched.
func (r reply) encode(id json.RawMessage) []byte {
	if len(id) == 0 {
		id = json.RawMessage("null")
	}
	body, key := r.result, `,"result":`
	if r.errRaw != nil {
		body, key = r.errRaw, `,"error":`
	}
	if body == nil {
		body = json.RawMessage("null")
	}
	b := make([]byte, 0, len(body)+len(id)+32)
	b = append(b, `{"jsonrpc":"2.0","id":`...)
	b = append(b, id...)
	b = append(b, key...)
	b = append(b, body...)
	return append(b, '}')
}
