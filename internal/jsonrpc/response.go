package jsonrpc

import (
	"bytes"
	"encoding/json"
)

// Outcome is what a scan of a node's response found.
type Outcome uint8

const (
	// NeedMore: the prefix ends before the result or error member.
	NeedMore Outcome = iota
	// Result: the response holds a result (the rest may be streamed).
	Result
	// Failure: the response holds an error object.
	Failure
	// Malformed: the bytes are not a JSON-RPC response.
	Malformed
)

// ScanResponse walks the top-level members of a single response until it
// meets "result" or a non-null "error". It needs only a prefix of the body,
// so a large result can be streamed once its first bytes are seen. A prefix
// that ends inside a member is NeedMore; bytes that no continuation could
// make a response are Malformed.
func ScanResponse(prefix []byte) Outcome {
	i := skipSpace(prefix, 0)
	if i == len(prefix) {
		return NeedMore
	}
	if prefix[i] != '{' {
		return Malformed
	}
	i = skipSpace(prefix, i+1)
	for i < len(prefix) {
		if prefix[i] != '"' {
			return Malformed
		}
		ke, err := skipString(prefix, i)
		if err != nil {
			return incomplete(err)
		}
		key := prefix[i+1 : ke-1]
		if string(key) == "result" {
			return Result
		}
		i = skipSpace(prefix, ke)
		if i >= len(prefix) {
			return NeedMore
		}
		if prefix[i] != ':' {
			return Malformed
		}
		i = skipSpace(prefix, i+1)
		if i >= len(prefix) {
			return NeedMore
		}
		if string(key) == "error" && prefix[i] != 'n' {
			return Failure // "error": null is no error: some nodes send it beside a result
		}
		ve, err := skipValue(prefix, i)
		if err != nil {
			return incomplete(err)
		}
		i = skipSpace(prefix, ve)
		if i >= len(prefix) {
			return NeedMore // a number may go on, or the next member may come
		}
		if prefix[i] != ',' {
			return Malformed // the object closed without result or error, or worse
		}
		i = skipSpace(prefix, i+1)
	}
	return NeedMore
}

// incomplete maps a scan error to an outcome: input cut short may still
// become a response; anything else cannot.
func incomplete(err error) Outcome {
	if err == errEOF {
		return NeedMore
	}
	return Malformed
}

// RPCError is an error object returned by a node, with its raw bytes kept
// so the client receives it unchanged.
type RPCError struct {
	Code    int
	Message string
	Raw     []byte
}

func (e *RPCError) Error() string { return e.Message }

// ErrorOf extracts the error member of a complete single response, or nil.
func ErrorOf(resp []byte) *RPCError {
	resp = bytes.TrimSpace(resp)
	if len(resp) == 0 || resp[0] != '{' {
		return nil
	}
	var out *RPCError
	if err := eachMember(resp, func(k, v []byte) {
		if string(k) == "error" && len(v) > 0 && v[0] == '{' {
			var e struct {
				Code    int    `json:"code"`
				Message string `json:"message"`
			}
			_ = json.Unmarshal(v, &e)
			out = &RPCError{Code: e.Code, Message: e.Message, Raw: v}
		}
	}); err != nil {
		return nil
	}
	return out
}

// Element is one response of a batch response.
type Element struct {
	Raw []byte
	ID  []byte
	Err *RPCError
}

// SplitBatch splits a complete batch response into its elements.
func SplitBatch(resp []byte) ([]Element, error) {
	i := skipSpace(resp, 0)
	if i == len(resp) || resp[i] != '[' {
		return nil, errSyntax
	}
	end, err := skipValue(resp, i)
	if err != nil {
		return nil, err
	}
	var out []Element
	for i = skipSpace(resp, i+1); i < end-1; {
		e, err := skipValue(resp, i)
		if err != nil {
			return nil, err
		}
		el := Element{Raw: resp[i:e]}
		if resp[i] == '{' {
			_ = eachMember(el.Raw, func(k, v []byte) {
				if string(k) == "id" {
					el.ID = v
				}
			})
			el.Err = ErrorOf(el.Raw)
		}
		out = append(out, el)
		i = skipSpace(resp, e)
		if i < len(resp) && resp[i] == ',' {
			i = skipSpace(resp, i+1)
		}
	}
	return out, nil
}
