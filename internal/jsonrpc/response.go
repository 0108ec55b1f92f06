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
			out = rpcError(v)
		}
	}); err != nil {
		return nil
	}
	return out
}

// rpcError reads an error object, keeping its bytes.
func rpcError(v []byte) *RPCError {
	var e struct {
		Code    int    `json:"code"`
		Message string `json:"message"`
	}
	_ = json.Unmarshal(v, &e)
	return &RPCError{Code: e.Code, Message: e.Message, Raw: v}
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

// SplitBatchAppend is SplitBatch that appends the elements to dst. It
// reads the response in one pass, checking its JSON as it goes.
func SplitBatchAppend(dst []Element, resp []byte) ([]Element, error) {
	i := skipSpace(resp, 0)
	if i == len(resp) || resp[i] != '[' {
		return nil, errSyntax
	}
	out := dst
	if i = skipSpace(resp, i+1); i < len(resp) && resp[i] == ']' {
		return out, trailing(resp, i+1)
	}
	for {
		el, e, err := readElement(resp, i)
		if err != nil {
			return nil, err
		}
		out = append(out, el)
		switch i = skipSpace(resp, e); {
		case i >= len(resp):
			return nil, errEOF
		case resp[i] == ',':
			i = skipSpace(resp, i+1)
		case resp[i] == ']':
			return out, trailing(resp, i+1)
		default:
			return nil, errSyntax
		}
	}
}

// readElement reads one response of a batch starting at b[i], with its id
// and error members, and returns the index past it.
func readElement(b []byte, i int) (el Element, end int, err error) {
	if i >= len(b) || b[i] != '{' {
		if end, err = skipAny(b, i); err != nil {
			return el, 0, err
		}
		return Element{Raw: b[i:end]}, end, nil
	}
	var errVal []byte
	m := openObject(b, i, -1)
	for m.next() {
		switch string(m.key) {
		case "id":
			el.ID = m.val
		case "error":
			errVal = m.val
		}
	}
	if m.err != nil {
		return el, 0, m.err
	}
	end = m.end
	el.Raw = b[i:end]
	if len(errVal) > 0 && errVal[0] == '{' {
		el.Err = rpcError(errVal)
	}
	return el, end, nil
}

// trailing is the error for anything but space after a value ending at i.
func trailing(b []byte, i int) error {
	if skipSpace(b, i) != len(b) {
		return errSyntax
	}
	return nil
}
