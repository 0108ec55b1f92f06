package jsonrpc

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
)

// ResponseScan classifies a node's answer to one call as its bytes arrive,
// so that a result can be streamed as soon as it is known to be one. Scan
// is given the answer's prefix read so far, the same bytes each time plus
// any new ones. The top-level members are read in whatever order the node
// wrote them ({"jsonrpc","id","result"}, {"result","id"}, "error" first);
// the scan stops at "result" or at a non-null "error". The members before
// it may be of any size: a 100 KB string id is read like a short one.
//
// A member cut by the end of the prefix is read again from its start on a
// later call, but only once the prefix has grown by at least as much as had
// been read of it: a long id arriving in small reads costs time linear in
// its size, not quadratic.
//
// The zero value is ready for a new answer.
type ResponseScan struct {
	at     int    // where the member being read starts; 0 until the object opens
	again  int    // the prefix length from which that member is read again
	result int    // after Result: the offset just past the "result" key
	id     [2]int // the "id" value's span, when it came before the decision
	null   bool   // an "error": null member was read (some nodes send it beside a result)
}

// Scan reads prefix and reports what it shows. end says that no byte will
// follow (the answer ended, or the caller will hold no more of it): the
// prefix is then read whatever the pacing above, and NeedMore means the
// answer is undecided at its end.
func (s *ResponseScan) Scan(prefix []byte, end bool) Outcome {
	if !end && len(prefix) < s.again {
		return NeedMore
	}
	i := s.at
	if i == 0 {
		i = skipSpace(prefix, 0)
		if i == len(prefix) {
			return s.needMore(prefix, 0)
		}
		if prefix[i] != '{' {
			return Malformed
		}
		i = skipSpace(prefix, i+1)
		if i == len(prefix) {
			return s.needMore(prefix, 0)
		}
		if prefix[i] == '}' {
			return s.closed()
		}
		s.at = i
	}
	for {
		// A member starts at i (s.at may be the end of the last prefix:
		// spaces may follow it).
		if i = skipSpace(prefix, i); i == len(prefix) {
			return s.needMore(prefix, i)
		}
		start := i
		if prefix[i] != '"' {
			return Malformed
		}
		ke, err := skipString(prefix, i)
		if err != nil {
			return s.cut(prefix, start, err)
		}
		key := memberKey(prefix[i:ke])
		if key == keyResult {
			s.result = ke
			return Result
		}
		if i = skipSpace(prefix, ke); i == len(prefix) {
			return s.needMore(prefix, start)
		}
		if prefix[i] != ':' {
			return Malformed
		}
		if i = skipSpace(prefix, i+1); i == len(prefix) {
			return s.needMore(prefix, start)
		}
		if key == keyError && prefix[i] != 'n' {
			return Failure // a null error is no error: the result may follow
		}
		ve, err := skipAny(prefix, i)
		if err != nil {
			return s.cut(prefix, start, err)
		}
		switch key {
		case keyError:
			s.null = true
		case keyID:
			s.id = [2]int{i, ve}
		}
		// A number may go on: the member ends only at the comma or brace.
		switch i = skipSpace(prefix, ve); {
		case i == len(prefix):
			return s.needMore(prefix, start)
		case prefix[i] == '}':
			return s.closed()
		case prefix[i] != ',':
			return Malformed
		}
		i++
		s.at = i
	}
}

// cut is the outcome of a member at start that a scan error ended: input
// cut short may still become a response; anything else cannot.
func (s *ResponseScan) cut(prefix []byte, start int, err error) Outcome {
	if err == errEOF {
		return s.needMore(prefix, start)
	}
	return Malformed
}

// needMore notes that the member at start is cut by the prefix's end.
func (s *ResponseScan) needMore(prefix []byte, start int) Outcome {
	s.again = len(prefix) + max(len(prefix)-start, 1)
	return NeedMore
}

// closed is the outcome of an object that ended without a result: only a
// null "error" makes it a JSON-RPC answer (an odd one, passed on as the
// node's); with neither member it is none.
func (s *ResponseScan) closed() Outcome {
	if s.null {
		return Failure
	}
	return Malformed
}

// ResultNull reports whether the result Scan found is null, as far as
// prefix shows it.
func (s *ResponseScan) ResultNull(prefix []byte) bool {
	i := skipSpace(prefix, s.result)
	if i >= len(prefix) || prefix[i] != ':' {
		return false
	}
	i = skipSpace(prefix, i+1)
	return bytes.HasPrefix(prefix[i:], []byte("null"))
}

// ResultEmpty reports whether the result Scan found is null, an empty
// array or empty data ("0x"), as far as prefix shows it: what a node
// answers for a block, log or code it does not have (yet).
func (s *ResponseScan) ResultEmpty(prefix []byte) bool {
	i := skipSpace(prefix, s.result)
	if i >= len(prefix) || prefix[i] != ':' {
		return false
	}
	i = skipSpace(prefix, i+1)
	v := prefix[i:]
	switch {
	case bytes.HasPrefix(v, []byte("null")), bytes.HasPrefix(v, []byte(`"0x"`)):
		return true
	case len(v) > 0 && v[0] == '[':
		j := skipSpace(v, 1)
		return j < len(v) && v[j] == ']'
	}
	return false
}

// ResultValue returns the result's raw value when prefix holds it whole,
// nil otherwise.
func (s *ResponseScan) ResultValue(prefix []byte) []byte {
	i := skipSpace(prefix, s.result)
	if i >= len(prefix) || prefix[i] != ':' {
		return nil
	}
	i = skipSpace(prefix, i+1)
	e, err := skipAny(prefix, i)
	if err != nil || e > len(prefix) {
		return nil
	}
	return prefix[i:e]
}

// ID returns the span of the answer's "id" value when it came before the
// result or error: the node's bytes for the id, which a node may have
// re-encoded (Go's encoding/json escapes <, > and & in the strings it
// echoes).
func (s *ResponseScan) ID() (start, end int, ok bool) {
	return s.id[0], s.id[1], s.id[1] > 0
}

// WithID returns answer with id in place of the span ID found, when the two
// differ; answer itself otherwise.
func (s *ResponseScan) WithID(answer, id []byte) []byte {
	start, end, ok := s.ID()
	if !ok || id == nil || end > len(answer) || bytes.Equal(answer[start:end], id) {
		return answer
	}
	return spliceID(answer, start, end, id)
}

func spliceID(answer []byte, start, end int, id []byte) []byte {
	out := make([]byte, 0, len(answer)-(end-start)+len(id))
	out = append(out, answer[:start]...)
	out = append(out, id...)
	return append(out, answer[end:]...)
}

// SameID reports whether two raw ids are the same id: byte for byte, or
// strings equal once decoded (a node may re-encode the id it echoes).
func SameID(a, b []byte) bool {
	if bytes.Equal(a, b) {
		return true
	}
	if len(a) < 2 || len(b) < 2 || a[0] != '"' || b[0] != '"' {
		return false
	}
	var x, y string
	return json.Unmarshal(a, &x) == nil && json.Unmarshal(b, &y) == nil && x == y
}

// The member keys a scan tells apart.
const (
	keyOther = iota
	keyResult
	keyError
	keyID
)

// memberKey tells a member's key from its raw string, decoding escapes (a
// key may legally spell "result" as "res\u0075lt").
func memberKey(raw []byte) int {
	if k := keyOf(raw[1 : len(raw)-1]); k != keyOther {
		return k
	}
	for _, c := range raw[1 : len(raw)-1] {
		if c == '\\' {
			var k string
			if json.Unmarshal(raw, &k) != nil {
				return keyOther
			}
			return keyOf([]byte(k))
		}
	}
	return keyOther
}

func keyOf(k []byte) int {
	switch string(k) { // compared without allocating
	case "result":
		return keyResult
	case "error":
		return keyError
	case "id":
		return keyID
	}
	return keyOther
}

// skipAny is skipValue for a node's answers, which may nest deeper than
// MaxDepth (a call tracer's frames): such a value is skipped with
// encoding/json, which allows far deeper ones, so an answer is judged as
// encoding/json would judge it. Such values are rare enough that the cost
// does not matter.
func skipAny(b []byte, i int) (int, error) {
	end, err := skipValue(b, i)
	if err != errDepth {
		return end, err
	}
	dec := json.NewDecoder(bytes.NewReader(b[i:]))
	var v json.RawMessage
	if err := dec.Decode(&v); err != nil {
		if errors.Is(err, io.ErrUnexpectedEOF) {
			return 0, errEOF
		}
		return 0, errSyntax
	}
	return i + int(dec.InputOffset()), nil
}
