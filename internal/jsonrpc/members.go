package jsonrpc

// EachMember calls fn for every top-level member of the JSON object obj,
// with the key as written between its quotes and the value's raw bytes. It
// fails on anything that is not an object.
func EachMember(obj []byte, fn func(key, val []byte)) error {
	i := skipSpace(obj, 0)
	if i >= len(obj) || obj[i] != '{' {
		return errSyntax
	}
	return eachMember(obj[i:], fn)
}

// ResultSpan returns where the "result" value of a complete single response
// lies in resp; ok is false when it has none.
func ResultSpan(resp []byte) (start, end int, ok bool) {
	return memberSpan(resp, "result")
}
