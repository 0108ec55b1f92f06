package ws

// A small scanner for the messages of the upstream WebSocket client: it
// finds the spans of a few top-level members without decoding anything, so
// a large result is never copied or parsed to route it.

// span is [start, end) in a message; start < 0 means absent.
type span struct{ start, end int }

func (s span) ok() bool { return s.start >= 0 }

func (s span) of(b []byte) []byte {
	if s.start < 0 {
		return nil
	}
	return b[s.start:s.end]
}

// message holds the spans of the members routing needs.
type message struct {
	id, method, params, result, err, subscription span
}

func isSpace(c byte) bool { return c == ' ' || c == '\n' || c == '\r' || c == '\t' }

func skipSpace(b []byte, i int) int {
	for i < len(b) && isSpace(b[i]) {
		i++
	}
	return i
}

// skipString returns the index past the string at b[i] == '"', or -1.
func skipString(b []byte, i int) int {
	for i++; i < len(b); i++ {
		switch b[i] {
		case '\\':
			i++
		case '"':
			return i + 1
		}
	}
	return -1
}

// skipValue returns the index past the JSON value at b[i], or -1.
func skipValue(b []byte, i int) int {
	if i >= len(b) {
		return -1
	}
	switch b[i] {
	case '"':
		return skipString(b, i)
	case '{', '[':
		depth := 0
		for j := i; j < len(b); j++ {
			switch b[j] {
			case '"':
				if j = skipString(b, j); j < 0 {
					return -1
				}
				j--
			case '{', '[':
				depth++
			case '}', ']':
				if depth--; depth == 0 {
					return j + 1
				}
			}
		}
		return -1
	}
	j := i
	for j < len(b) && b[j] != ',' && b[j] != '}' && b[j] != ']' && !isSpace(b[j]) {
		j++
	}
	return j
}

// eachMember calls fn with the key and value span of every top-level member
// of the object at b[i]; it returns the index past the object, or -1.
func eachMember(b []byte, i int, fn func(key []byte, v span)) int {
	i = skipSpace(b, i)
	if i >= len(b) || b[i] != '{' {
		return -1
	}
	i = skipSpace(b, i+1)
	if i < len(b) && b[i] == '}' {
		return i + 1
	}
	for i < len(b) {
		if b[i] != '"' {
			return -1
		}
		ke := skipString(b, i)
		if ke < 0 {
			return -1
		}
		key := b[i+1 : ke-1]
		i = skipSpace(b, ke)
		if i >= len(b) || b[i] != ':' {
			return -1
		}
		vs := skipSpace(b, i+1)
		ve := skipValue(b, vs)
		if ve < 0 {
			return -1
		}
		fn(key, span{vs, ve})
		i = skipSpace(b, ve)
		if i < len(b) && b[i] == ',' {
			i = skipSpace(b, i+1)
			continue
		}
		if i < len(b) && b[i] == '}' {
			return i + 1
		}
		return -1
	}
	return -1
}

// scanObject reads the routing members of the object at b[i]; it returns
// the index past the object, or -1.
func scanObject(b []byte, i int, m *message) int {
	*m = message{id: span{-1, -1}, method: span{-1, -1}, params: span{-1, -1}, result: span{-1, -1}, err: span{-1, -1}, subscription: span{-1, -1}}
	return eachMember(b, i, func(key []byte, v span) {
		switch string(key) {
		case "id":
			m.id = v
		case "method":
			m.method = v
		case "params":
			m.params = v
		case "result":
			m.result = v
		case "error":
			m.err = v
		}
	})
}

// notification reads a subscription notification's params: the
// subscription id and the result.
func notification(b []byte, params span) (sub, result span) {
	sub, result = span{-1, -1}, span{-1, -1}
	eachMember(b, params.start, func(key []byte, v span) {
		switch string(key) {
		case "subscription":
			sub = v
		case "result":
			result = v
		}
	})
	return sub, result
}

// eachElement calls fn with the start of every element of the array at
// b[i]; it reports whether the array is well formed.
func eachElement(b []byte, fn func(start int) int) bool {
	i := skipSpace(b, 0)
	if i >= len(b) || b[i] != '[' {
		return false
	}
	i = skipSpace(b, i+1)
	if i < len(b) && b[i] == ']' {
		return true
	}
	for i < len(b) {
		e := fn(i)
		if e < 0 {
			return false
		}
		i = skipSpace(b, e)
		if i < len(b) && b[i] == ',' {
			i = skipSpace(b, i+1)
			continue
		}
		return i < len(b) && b[i] == ']'
	}
	return false
}

// parseID reads an id the gateway wrote (a decimal number).
func parseID(b []byte) (uint64, bool) {
	if len(b) == 0 || len(b) > 19 {
		return 0, false
	}
	var v uint64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		v = v*10 + uint64(c-'0')
	}
	return v, true
}
