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

// ScanResponse classifies a whole answer, or the prefix of one, in a
// single pass: see ResponseScan. A prefix that ends inside a member is
// NeedMore; bytes that no continuation could make a response are Malformed.
func ScanResponse(prefix []byte) Outcome {
	var s ResponseScan
	return s.Scan(prefix, true)
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

// WithID returns the element with id in place of its own when the two
// differ (a node may re-encode the id it echoes); Raw itself otherwise.
func (e *Element) WithID(id []byte) []byte {
	if e.ID == nil || bytes.Equal(e.ID, id) {
		return e.Raw
	}
	// ID is a subslice of Raw: its offset in Raw is the difference of
	// their capacities.
	start := cap(e.Raw) - cap(e.ID)
	return spliceID(e.Raw, start, start+len(e.ID), id)
}

// SplitBatch splits a complete batch response into its elements.
func SplitBatch(resp []byte) ([]Element, error) { return SplitBatchAppend(nil, resp) }

// SplitBatchAppend is SplitBatch that appends the elements to dst.
func SplitBatchAppend(dst []Element, resp []byte) ([]Element, error) {
	i := skipSpace(resp, 0)
	if i == len(resp) || resp[i] != '[' {
		return nil, errSyntax
	}
	end, err := skipAny(resp, i)
	if err != nil {
		return nil, err
	}
	out := dst
	for i = skipSpace(resp, i+1); i < end-1; {
		e, err := skipAny(resp, i)
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
