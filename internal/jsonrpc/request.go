package jsonrpc

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
)

// Call is one JSON-RPC request object, kept as raw bytes.
type Call struct {
	// Raw is the whole request object as the client sent it.
	Raw []byte
	// ID is the raw id value; nil when the call is a notification.
	ID []byte
	// Method is the method name (interned for known methods).
	Method string
	// Params is the raw params value, nil when absent.
	Params []byte
	// Err is set when this element of a batch is not a valid request; the
	// call is then answered with it and never sent to a node.
	Err *Error

	// The parameter routing reads (the filter or the block parameter): its
	// position + 1 (0: none) and raw value, found when the call is read. A
	// large eth_call's object is then skipped once, not once per question
	// routing asks of its block parameter. Read-only afterwards: a call's
	// hedged tries read it at once.
	blockAt  int
	blockVal []byte
}

// IsNotification reports whether the call has no id (no answer is due).
func (c *Call) IsNotification() bool { return c.ID == nil && c.Err == nil }

// Parse splits a request body into calls. batch reports whether the body was
// a JSON array. A body that is not JSON (-32700), an empty batch or a body
// nested deeper than MaxDepth (-32600) is an error for the whole request; an
// invalid element of a batch only marks that call. When a single call is
// invalid, the error comes back with that call, whose ID is kept when it is
// a valid id so the answer can carry it.
func Parse(body []byte) (calls []Call, batch bool, err *Error) { return ParseAppend(nil, body) }

// ParseAppend is Parse that appends the calls to dst (a caller's own
// room for a single call saves an allocation).
func ParseAppend(dst []Call, body []byte) (calls []Call, batch bool, err *Error) {
	i := skipSpace(body, 0)
	if i == len(body) {
		return nil, false, NewError(CodeParseError, "parse error: the request body is empty")
	}
	batch = body[i] == '['
	var end int
	var serr error
	if batch {
		calls, end, serr = readBatch(dst, body, i)
	} else {
		var c Call
		if c, end, serr = readCall(body, i, MaxDepth); serr == nil {
			calls = append(dst, c)
		}
	}
	if serr == nil && skipSpace(body, end) != len(body) {
		serr = errSyntax
	}
	switch {
	case serr == errDepth && json.Valid(body):
		return nil, batch, NewError(CodeInvalidRequest, "invalid request: JSON nested deeper than "+strconv.Itoa(MaxDepth)+" levels")
	case serr != nil:
		return nil, batch, NewError(CodeParseError, "parse error: the body is not valid JSON")
	case !batch:
		return calls, false, calls[len(calls)-1].Err
	case len(calls) == 0:
		return nil, true, NewError(CodeInvalidRequest, "empty batch")
	}
	return calls, true, nil
}

// readBatch reads the batch array starting at b[i] == '[' in one pass,
// checking its JSON as it goes, and returns the index past it. On an error
// the calls read so far mean nothing.
func readBatch(dst []Call, b []byte, i int) (calls []Call, end int, err error) {
	calls = dst
	if cap(calls) < 8 {
		calls = make([]Call, 0, 8)
	}
	i = skipSpace(b, i+1)
	if i < len(b) && b[i] == ']' {
		return calls, i + 1, nil
	}
	for {
		c, e, err := readCall(b, i, MaxDepth-1)
		if err != nil {
			return calls, 0, err
		}
		calls = append(calls, c)
		i = skipSpace(b, e)
		switch {
		case i >= len(b):
			return calls, 0, errEOF
		case b[i] == ',':
			i = skipSpace(b, i+1)
		case b[i] == ']':
			return calls, i + 1, nil
		default:
			return calls, 0, errSyntax
		}
	}
}

// readCall reads the JSON value starting at b[i], nesting at most depth
// levels, as a request object, and returns the index past it. The value's
// JSON is checked as it is read: err is for bytes that are not JSON; a
// value that is JSON but not a valid request has its Call.Err set.
func readCall(b []byte, i, depth int) (c Call, end int, err error) {
	if i >= len(b) || b[i] != '{' || depth == 0 {
		if end, err = skipWithin(b, i, depth); err != nil {
			return c, 0, err
		}
		c.Raw = b[i:end]
		c.Err = NewError(CodeInvalidRequest, "invalid request: each call must be a JSON object")
		return c, end, nil
	}
	var version, method, ambiguous []byte
	hasMethod := false
	// A second id is read as the last, as go-ethereum does: the answer
	// carries the id read here whatever the node read.
	seen := names{list: envelopeNames, twice: 1 << 1}
	m := openObject(b, i, depth)
	for m.next() {
		idx, amb := seen.add(m.key)
		if amb && ambiguous == nil {
			ambiguous = m.key
		}
		switch idx {
		case 0:
			version = m.val
		case 1:
			c.ID = m.val
		case 2:
			method, hasMethod = m.val, true
		case 3:
			c.Params = m.val
		}
	}
	if m.err != nil {
		return c, 0, m.err
	}
	end = m.end
	c.Raw = b[i:end]
	c.check(version, method, hasMethod)
	switch {
	case c.Err != nil:
	case ambiguous != nil:
		c.Err = NewError(CodeInvalidRequest, fmt.Sprintf("invalid request: member \"%s\" may be read differently by different nodes "+
			"(a second member of that name, escapes, or other letter case): write each of jsonrpc, id, method and params once, as is", shown(ambiguous)))
		c.Method = ""
	default:
		info := Info(c.Method)
		c.findBlockParam(info)
		if e := c.ambiguousParam(info); e != nil {
			c.Err, c.Method = e, ""
		}
	}
	return c, end, nil
}

// check sets c.Err when the members read do not make a valid request, and
// c.Method when they do.
func (c *Call) check(version, method []byte, hasMethod bool) {
	switch {
	case string(version) != `"2.0"`:
		c.Err = NewError(CodeInvalidRequest, `invalid request: "jsonrpc" must be "2.0"`)
	case !hasMethod || len(method) < 2 || method[0] != '"':
		c.Err = NewError(CodeInvalidRequest, `invalid request: "method" must be a string`)
	case c.ID != nil && !validID(c.ID):
		c.Err = NewError(CodeInvalidRequest, `invalid request: "id" must be a string, a number or null`)
	case c.Params != nil && c.Params[0] != '[' && c.Params[0] != '{' && string(c.Params) != "null":
		c.Err = NewError(CodeInvalidRequest, `invalid request: "params" must be an array or an object`)
	default:
		c.Method = methodName(method)
	}
	if string(c.Params) == "null" {
		c.Params = nil // as nodes do: null params are no params
	}
	if c.Err != nil && c.ID != nil && !validID(c.ID) {
		c.ID = nil
	}
}

func validID(id []byte) bool {
	switch id[0] {
	case '"', 'n', '-', '0', '1', '2', '3', '4', '5', '6', '7', '8', '9':
		return true
	}
	return false
}

// eachMember calls fn for every top-level member of the object raw.
func eachMember(raw []byte, fn func(key, val []byte)) error {
	m := openObject(raw, 0, -1)
	for m.next() {
		fn(m.key, m.val)
	}
	return m.err
}

// members reads the members of an object one at a time, checking its
// JSON as it goes.
type members struct {
	b        []byte
	i        int // the next byte to read
	depth    int // values may nest depth-1 levels; negative: as deep as encoding/json allows
	key, val []byte
	end      int // past the closing brace, once read
	err      error
}

// openObject starts reading the object at b[i] == '{'.
func openObject(b []byte, i, depth int) members {
	m := members{b: b, i: skipSpace(b, i+1), depth: depth}
	if m.i < len(b) && b[m.i] == '}' {
		m.end = m.i + 1
	}
	return m
}

// next reads the next member into key and val. It returns false after the
// last member, or on bytes that are not JSON (err).
func (m *members) next() bool {
	if m.end != 0 || m.err != nil {
		return false
	}
	b, i := m.b, m.i
	if i >= len(b) {
		return m.fail(errEOF)
	}
	if b[i] != '"' {
		return m.fail(errSyntax)
	}
	ke, err := skipString(b, i)
	if err != nil {
		return m.fail(err)
	}
	m.key = b[i+1 : ke-1]
	if i = skipSpace(b, ke); i >= len(b) {
		return m.fail(errEOF)
	}
	if b[i] != ':' {
		return m.fail(errSyntax)
	}
	i = skipSpace(b, i+1)
	var ve int
	if m.depth < 0 {
		ve, err = skipAny(b, i)
	} else {
		ve, err = skipWithin(b, i, m.depth-1)
	}
	if err != nil {
		return m.fail(err)
	}
	m.val = b[i:ve]
	switch i = skipSpace(b, ve); {
	case i >= len(b):
		return m.fail(errEOF)
	case b[i] == ',':
		m.i = skipSpace(b, i+1)
	case b[i] == '}':
		m.end = i + 1
	default:
		return m.fail(errSyntax)
	}
	return true
}

func (m *members) fail(err error) bool {
	m.err = err
	return false
}

// methodName returns the method of a raw JSON string, decoding escapes when
// there are any.
func methodName(raw []byte) string {
	inner := raw[1 : len(raw)-1]
	if bytes.IndexByte(inner, '\\') < 0 {
		return internMethod(inner)
	}
	var s string
	if json.Unmarshal(raw, &s) != nil {
		return string(inner)
	}
	return internMethod([]byte(s))
}
