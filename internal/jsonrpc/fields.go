package jsonrpc

// IDSpan returns where the top-level "id" value of a single response object
// lies in resp, so the id can be swapped for another without touching any
// other byte. ok is false when resp is not an object or has no id.
func IDSpan(resp []byte) (start, end int, ok bool) {
	return memberSpan(resp, "id")
}

// ResultValue returns the raw "result" value of a complete single response,
// or nil when it has none.
func ResultValue(resp []byte) []byte {
	s, e, ok := memberSpan(resp, "result")
	if !ok {
		return nil
	}
	return resp[s:e]
}

// Member returns the raw value of the top-level member key of the JSON
// object obj, or nil when obj is not an object or has no such member.
func Member(obj []byte, key string) []byte {
	s, e, ok := memberSpan(obj, key)
	if !ok {
		return nil
	}
	return obj[s:e]
}

// memberSpan walks the top-level members of the object in b and returns the
// bounds of key's value.
func memberSpan(b []byte, key string) (start, end int, ok bool) {
	i := skipSpace(b, 0)
	if i >= len(b) || b[i] != '{' {
		return 0, 0, false
	}
	i = skipSpace(b, i+1)
	for i < len(b) && b[i] == '"' {
		ke, err := skipString(b, i)
		if err != nil {
			return 0, 0, false
		}
		k := b[i+1 : ke-1]
		i = skipSpace(b, ke)
		if i >= len(b) || b[i] != ':' {
			return 0, 0, false
		}
		i = skipSpace(b, i+1)
		ve, err := skipValue(b, i)
		if err != nil {
			return 0, 0, false
		}
		if string(k) == key {
			return i, ve, true
		}
		i = skipSpace(b, ve)
		if i >= len(b) || b[i] != ',' {
			return 0, 0, false
		}
		i = skipSpace(b, i+1)
	}
	return 0, 0, false
}

// Params returns the raw elements of a params array (nil when params is not
// an array).
func Params(params []byte, out [][]byte) [][]byte {
	i := skipSpace(params, 0)
	if i >= len(params) || params[i] != '[' {
		return out
	}
	i = skipSpace(params, i+1)
	for i < len(params) && params[i] != ']' {
		e, err := skipValue(params, i)
		if err != nil {
			return out
		}
		out = append(out, params[i:e])
		i = skipSpace(params, e)
		if i < len(params) && params[i] == ',' {
			i = skipSpace(params, i+1)
		}
	}
	return out
}
